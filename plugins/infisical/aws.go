package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agent-vault/agent-vault/sdk/sdkjson"
)

// stsBody is the STS GetCallerIdentity request Infisical replays to AWS.
const stsBody = "Action=GetCallerIdentity&Version=2011-06-15"

// awsLoginBody builds the AWS IAM login body (wire doc §1.4): a SigV4-signed
// STS GetCallerIdentity request, signed here with the static credentials
// from the environment. The plugin never calls AWS; Infisical does.
func awsLoginBody(env map[string]string, now time.Time) map[string]string {
	region := strings.TrimSpace(env[envAWSRegion])
	if region == "" {
		region = strings.TrimSpace(env[envAWSDefRegion])
	}
	if region == "" {
		region = "us-east-1"
	}
	headers := signSTS(strings.TrimSpace(env[envAWSKeyID]), strings.TrimSpace(env[envAWSSecret]), strings.TrimSpace(env[envAWSSession]), region, now)
	hj := sdkjson.AppendStringMap(nil, headers)
	return map[string]string{
		"identityId":           strings.TrimSpace(env[envAWSIdentity]),
		"iamHttpRequestMethod": "POST",
		"iamRequestBody":       base64.StdEncoding.EncodeToString([]byte(stsBody)),
		"iamRequestHeaders":    base64.StdEncoding.EncodeToString(hj),
	}
}

// signSTS returns the headers of a SigV4-signed POST of stsBody to the
// region's STS endpoint, Authorization included.
func signSTS(keyID, secret, session, region string, now time.Time) map[string]string {
	amzDate := now.UTC().Format("20060102T150405Z")
	date := amzDate[:8]
	h := map[string]string{
		"Host":           "sts." + region + ".amazonaws.com",
		"Content-Type":   "application/x-www-form-urlencoded; charset=utf-8",
		"Content-Length": strconv.Itoa(len(stsBody)),
		"X-Amz-Date":     amzDate,
	}
	if session != "" {
		h["X-Amz-Security-Token"] = session
	}
	names := make([]string, 0, len(h))
	lower := map[string]string{}
	for k, v := range h {
		lk := strings.ToLower(k)
		names = append(names, lk)
		lower[lk] = v
	}
	sort.Strings(names)
	var canon strings.Builder
	canon.WriteString("POST\n/\n\n")
	for _, n := range names {
		canon.WriteString(n + ":" + strings.Join(strings.Fields(lower[n]), " ") + "\n")
	}
	payload := sha256.Sum256([]byte(stsBody))
	signed := strings.Join(names, ";")
	canon.WriteString("\n" + signed + "\n" + hex.EncodeToString(payload[:]))
	canonHash := sha256.Sum256([]byte(canon.String()))
	scope := date + "/" + region + "/sts/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonHash[:])
	key := []byte("AWS4" + secret)
	for _, part := range []string{date, region, "sts", "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	h["Authorization"] = "AWS4-HMAC-SHA256 Credential=" + keyID + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + sig
	return h
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
