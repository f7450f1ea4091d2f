package cli

// CheckGolden lets the end-to-end tests (package cli_test) share the
// golden helper.
var CheckGolden = checkGolden
