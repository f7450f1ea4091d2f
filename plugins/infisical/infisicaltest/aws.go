package infisicaltest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// stsBody is the only request the AWS IAM login may carry.
const stsBody = "Action=GetCallerIdentity&Version=2011-06-15"

// awsLogin is the AWS IAM login body.
type awsLogin struct {
	IdentityID       string `json:"identityId"`
	Method           string `json:"iamHttpRequestMethod"`
	Body             string `json:"iamRequestBody"`
	Headers          string `json:"iamRequestHeaders"`
	OrganizationSlug string `json:"organizationSlug"`
}

// sigV4Auth is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" Authorization header.
type sigV4Auth struct {
	AccessKeyID   string
	Date          string // yyyymmdd
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

var (
	amzDatePattern   = regexp.MustCompile(`^\d{8}T\d{6}Z$`)
	signaturePattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// parseSigV4Authorization parses and shape-checks a SigV4 Authorization
// header value.
func parseSigV4Authorization(v string) (sigV4Auth, error) {
	var a sigV4Auth
	rest, ok := strings.CutPrefix(v, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, errors.New("Authorization is not AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("Authorization part %q is not key=value", part)
		}
		fields[k] = val
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[4] != "aws4_request" {
		return a, errors.New("Authorization Credential is not <key>/<date>/<region>/<service>/aws4_request")
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if len(a.Date) != 8 || !amzDatePattern.MatchString(a.Date+"T000000Z") {
		return a, errors.New("Authorization Credential date is not yyyymmdd")
	}
	if a.Region == "" {
		return a, errors.New("Authorization Credential has no region")
	}
	if fields["SignedHeaders"] == "" {
		return a, errors.New("Authorization has no SignedHeaders")
	}
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(a.SignedHeaders) {
		return a, errors.New("Authorization SignedHeaders are not sorted")
	}
	a.Signature = fields["Signature"]
	if !signaturePattern.MatchString(a.Signature) {
		return a, errors.New("Authorization Signature is not 64 hex digits")
	}
	return a, nil
}

// verifyAWSLogin checks that an AWS IAM login carries a well-formed signed
// STS GetCallerIdentity request for cfg, as the real server would before
// replaying it to STS. It never calls AWS.
func verifyAWSLogin(req awsLogin, cfg AWSAuth) error {
	if req.Method != "POST" {
		return fmt.Errorf("iamHttpRequestMethod is %q, want POST", req.Method)
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil || string(body) != stsBody {
		return errors.New("iamRequestBody is not base64 of " + stsBody)
	}
	rawHeaders, err := base64.StdEncoding.DecodeString(req.Headers)
	if err != nil {
		return errors.New("iamRequestHeaders is not base64")
	}
	var headers map[string]string
	if err := json.Unmarshal(rawHeaders, &headers); err != nil {
		return errors.New("iamRequestHeaders is not a base64 JSON object of strings")
	}
	h := map[string]string{}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	auth, err := parseSigV4Authorization(h["authorization"])
	if err != nil {
		return err
	}
	amzDate := h["x-amz-date"]
	if !amzDatePattern.MatchString(amzDate) || amzDate[:8] != auth.Date {
		return errors.New("X-Amz-Date is missing or does not match the credential scope date")
	}
	if auth.Service != "sts" {
		return fmt.Errorf("credential scope service is %q, want sts", auth.Service)
	}
	host := h["host"]
	if host != "sts."+auth.Region+".amazonaws.com" && !(auth.Region == "us-east-1" && host == "sts.amazonaws.com") {
		return fmt.Errorf("Host %q is not the STS endpoint of region %s", host, auth.Region)
	}
	if !strings.HasPrefix(h["content-type"], "application/x-www-form-urlencoded") {
		return errors.New("Content-Type is not application/x-www-form-urlencoded")
	}
	signed := map[string]bool{}
	for _, s := range auth.SignedHeaders {
		signed[s] = true
		if _, ok := h[s]; !ok {
			return fmt.Errorf("signed header %q is missing", s)
		}
	}
	if !signed["host"] || !signed["x-amz-date"] {
		return errors.New("SignedHeaders must include host and x-amz-date")
	}
	if cfg.AccessKeyID != "" && auth.AccessKeyID != cfg.AccessKeyID {
		return errors.New("the request is signed by another AWS principal")
	}
	if cfg.Region != "" && auth.Region != cfg.Region {
		return fmt.Errorf("the request targets region %s, want %s", auth.Region, cfg.Region)
	}
	if cfg.SecretAccessKey != "" {
		want := sigV4Signature(cfg.SecretAccessKey, auth, amzDate, h, body)
		if !hmac.Equal([]byte(want), []byte(auth.Signature)) {
			return errors.New("the request signature does not match")
		}
	}
	return nil
}

// sigV4Signature computes the SigV4 signature of a POST to "/" with no
// query, over the signed headers in h (lower-case names).
func sigV4Signature(secret string, a sigV4Auth, amzDate string, h map[string]string, body []byte) string {
	var canon strings.Builder
	canon.WriteString("POST\n/\n\n")
	for _, name := range a.SignedHeaders {
		canon.WriteString(name + ":" + strings.Join(strings.Fields(h[name]), " ") + "\n")
	}
	payload := sha256.Sum256(body)
	canon.WriteString("\n" + strings.Join(a.SignedHeaders, ";") + "\n" + hex.EncodeToString(payload[:]))
	canonHash := sha256.Sum256([]byte(canon.String()))
	scope := a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonHash[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{a.Date, a.Region, a.Service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
