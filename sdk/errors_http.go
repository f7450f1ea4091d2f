package sdk

// HTTPError is a failure of the host's HTTP capability: the origin was not
// granted, the address is internal, the request timed out, and so on. Code
// is one of the abi.CodeHTTP* codes. A Store that returns it (wrapped or
// not) reports CodeUnreachable to the host. sdk/sdkhttp produces it.
type HTTPError struct {
	Code    string
	Message string
}

func (e *HTTPError) Error() string { return e.Code + ": " + e.Message }
