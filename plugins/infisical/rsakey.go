package main

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"math/big"
)

// The GCP IAM login signs a JWT with the service account's RSA key, which
// the key file holds as PKCS #8 ("PRIVATE KEY"); older tools wrote PKCS #1
// ("RSA PRIVATE KEY"). crypto/x509 parses both, but it links every other
// key and certificate type (ECDSA, Ed25519, ML-KEM, the NIST curves), and
// encoding/asn1 alone pins the reflection-driven parts of math/big: about
// 2 MB of wasm together, which the host decodes, validates and checksums
// on every start. These two fixed structures need only a small DER
// reader. It follows encoding/asn1's rules (minimal tags, lengths and
// integers, definite lengths) and accepts exactly the two-prime RSA keys
// crypto/x509 accepts, which a fuzz test checks.

// Universal tags (X.690) of the elements the two structures use.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagOID         = 0x06
	tagSequence    = 0x30 // constructed
)

// oidRSAEncryption is the DER contents of rsaEncryption (RFC 8017,
// appendix C), 1.2.840.113549.1.1.1.
var oidRSAEncryption = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}

var errDER = errors.New("malformed DER")

// derReader reads a sequence of DER elements.
type derReader struct{ b []byte }

// header parses the identifier and length octets of the next element: its
// first identifier octet, the header's size and the contents' length. It
// does not check that the contents are there.
func (r *derReader) header() (tag byte, n, length int, err error) {
	b := r.b
	if len(b) == 0 {
		return 0, 0, 0, errDER
	}
	tag, n = b[0], 1
	if tag&0x1f == 0x1f {
		// High tag number: minimal base 128, at most 31 bits, and at least
		// 31 (smaller numbers have the one-octet form).
		var num int64
		for shifted := 0; ; shifted++ {
			if n >= len(b) || shifted == 5 || shifted == 0 && b[n] == 0x80 {
				return 0, 0, 0, errDER
			}
			num = num<<7 | int64(b[n]&0x7f)
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
		if num < 0x1f || num > 1<<31-1 {
			return 0, 0, 0, errDER
		}
	}
	if n >= len(b) {
		return 0, 0, 0, errDER
	}
	c := b[n]
	n++
	if c&0x80 == 0 {
		return tag, n, int(c), nil
	}
	// Long form: definite, without leading zeros, and only for 128 and up.
	k := int(c & 0x7f)
	if k == 0 {
		return 0, 0, 0, errDER
	}
	for range k {
		if n >= len(b) || length >= 1<<23 {
			return 0, 0, 0, errDER
		}
		length = length<<8 | int(b[n])
		n++
		if length == 0 {
			return 0, 0, 0, errDER
		}
	}
	if length < 0x80 {
		return 0, 0, 0, errDER
	}
	return tag, n, length, nil
}

// element reads the next element whatever its tag and returns its tag and
// contents.
func (r *derReader) element() (tag byte, contents []byte, err error) {
	tag, n, length, err := r.header()
	if err != nil {
		return 0, nil, err
	}
	if length > len(r.b)-n {
		return 0, nil, errDER
	}
	contents, r.b = r.b[n:n+length], r.b[n+length:]
	return tag, contents, nil
}

// read reads the next element, which must have the (one-octet) tag.
func (r *derReader) read(tag byte) ([]byte, error) {
	t, _, _, err := r.header()
	if err != nil || t != tag {
		return nil, errDER
	}
	_, contents, err := r.element()
	return contents, err
}

// optional reads the next element if there is one and it has tag; like
// encoding/asn1, it still refuses a malformed header.
func (r *derReader) optional(tag byte) (contents []byte, ok bool, err error) {
	if len(r.b) == 0 {
		return nil, false, nil
	}
	t, _, _, err := r.header()
	if err != nil || t != tag {
		return nil, false, err
	}
	contents, err = r.read(tag)
	return contents, err == nil, err
}

// checkInteger refuses an empty or non-minimal INTEGER.
func checkInteger(c []byte) error {
	if len(c) == 0 || len(c) > 1 && (c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 != 0) {
		return errDER
	}
	return nil
}

// smallInt reads an INTEGER that fits an int64.
func (r *derReader) smallInt() (int, error) {
	c, err := r.read(tagInteger)
	if err == nil {
		err = checkInteger(c)
	}
	if err != nil || len(c) > 8 {
		return 0, errDER
	}
	n := int64(int8(c[0])) // sign-extend
	for _, b := range c[1:] {
		n = n<<8 | int64(b)
	}
	return int(n), nil
}

// errNotPositive: a key value is zero or negative, which crypto/x509
// refuses too.
var errNotPositive = errors.New("the key contains a zero or negative value")

// positive turns the contents of an INTEGER into a positive *big.Int.
func positive(c []byte) (*big.Int, error) {
	if err := checkInteger(c); err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(c)
	if c[0]&0x80 != 0 || n.Sign() == 0 {
		return nil, errNotPositive
	}
	return n, nil
}

// bigInt reads a positive INTEGER.
func (r *derReader) bigInt() (*big.Int, error) {
	c, err := r.read(tagInteger)
	if err != nil {
		return nil, err
	}
	return positive(c)
}

// optionalBigInt reads a positive INTEGER if one comes next, else nil.
func (r *derReader) optionalBigInt() (*big.Int, error) {
	c, ok, err := r.optional(tagInteger)
	if !ok || err != nil {
		return nil, err
	}
	return positive(c)
}

// parseRSAPrivateKey parses a DER RSA private key, PKCS #8 or PKCS #1,
// and checks it as crypto/x509 does (rsa.PrivateKey Precompute, then
// Validate). Keys with more than two primes are refused.
func parseRSAPrivateKey(der []byte) (*rsa.PrivateKey, error) {
	if inner, err := pkcs8PrivateKey(der); err != errNotPKCS8 {
		if err != nil {
			return nil, err
		}
		return parsePKCS1(inner)
	}
	return parsePKCS1(der)
}

var errNotPKCS8 = errors.New("not PKCS #8")

// pkcs8PrivateKey returns the privateKey octets of a PrivateKeyInfo (RFC
// 5208) whose algorithm is rsaEncryption. The attributes that may follow
// are not read, as crypto/x509 does not read them. errNotPKCS8 means der
// does not have that structure.
func pkcs8PrivateKey(der []byte) ([]byte, error) {
	top := derReader{der}
	seq, err := top.read(tagSequence)
	if err != nil {
		return nil, errNotPKCS8
	}
	info := derReader{seq}
	if _, err := info.smallInt(); err != nil { // version
		return nil, errNotPKCS8
	}
	algSeq, err := info.read(tagSequence)
	if err != nil {
		return nil, errNotPKCS8
	}
	alg := derReader{algSeq}
	oid, err := alg.read(tagOID)
	if err != nil || len(oid) == 0 {
		return nil, errNotPKCS8
	}
	if len(alg.b) > 0 { // parameters (NULL for RSA), any element
		if _, _, err := alg.element(); err != nil {
			return nil, errNotPKCS8
		}
	}
	key, err := info.read(tagOctetString)
	if err != nil {
		return nil, errNotPKCS8
	}
	if len(top.b) > 0 {
		return nil, errors.New("trailing data after the PKCS #8 key")
	}
	if !bytes.Equal(oid, oidRSAEncryption) {
		return nil, errors.New("the PKCS #8 key is not an RSA key")
	}
	return key, nil
}

// parsePKCS1 parses an RSAPrivateKey (RFC 8017, appendix A.1.2). Anything
// after otherPrimeInfos is not read, as crypto/x509 does not read it.
func parsePKCS1(der []byte) (*rsa.PrivateKey, error) {
	top := derReader{der}
	seq, err := top.read(tagSequence)
	if err != nil {
		return nil, errors.New("neither a PKCS #8 nor a PKCS #1 key")
	}
	if len(top.b) > 0 {
		return nil, errors.New("trailing data after the PKCS #1 key")
	}
	r := derReader{seq}
	version, err := r.smallInt()
	if err != nil {
		return nil, errMalformedPKCS1
	}
	if version > 1 {
		return nil, errors.New("unsupported PKCS #1 key version")
	}
	// Values are read in order; a zero or negative one is refused at once
	// (crypto/x509 reads on, then refuses the key just the same).
	var n, d, p, q, dp, dq, qinv *big.Int
	var e int
	if n, err = r.bigInt(); err == nil {
		if e, err = r.smallInt(); err == nil {
			if d, err = r.bigInt(); err == nil {
				if p, err = r.bigInt(); err == nil {
					q, err = r.bigInt()
				}
			}
		}
	}
	if err == nil {
		if dp, err = r.optionalBigInt(); err == nil {
			if dq, err = r.optionalBigInt(); err == nil {
				qinv, err = r.optionalBigInt()
			}
		}
	}
	if err != nil {
		if err == errNotPositive {
			return nil, err
		}
		return nil, errMalformedPKCS1
	}
	// otherPrimeInfos: an empty one still means two primes.
	other, ok, err := r.optional(tagSequence)
	if err != nil {
		return nil, errMalformedPKCS1
	}
	if ok && len(other) > 0 {
		return nil, errors.New("only two-prime RSA keys are supported")
	}
	key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: e}, D: d, Primes: []*big.Int{p, q}}
	key.Precomputed.Dp, key.Precomputed.Dq, key.Precomputed.Qinv = dp, dq, qinv
	key.Precompute()
	if err := key.Validate(); err != nil {
		return nil, err
	}
	return key, nil
}

var errMalformedPKCS1 = errors.New("malformed PKCS #1 key")
