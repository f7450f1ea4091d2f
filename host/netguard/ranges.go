package netguard

import "net/netip"

// class is how the guard treats an address.
type class int

const (
	classPublic   class = iota // dial freely
	classSpecial               // private or special-purpose: only when allowed
	classMetadata              // a cloud metadata endpoint: never
)

// metadataAddrs are the instance-metadata and credential endpoints that
// clouds expose on every machine; reaching one from the proxy would hand the
// host's own cloud credentials to an agent. They are blocked even when
// private ranges are allowed.
var metadataAddrs = map[netip.Addr]string{
	// AWS IMDS, GCP, Azure IMDS, OCI, DigitalOcean, Hetzner, OpenStack, Huawei.
	netip.MustParseAddr("169.254.169.254"): "instance metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS instance metadata (IPv6)",
	netip.MustParseAddr("169.254.170.2"):   "AWS ECS task metadata",
	netip.MustParseAddr("169.254.170.23"):  "AWS EKS Pod Identity agent",
	netip.MustParseAddr("fd00:ec2::23"):    "AWS EKS Pod Identity agent (IPv6)",
	netip.MustParseAddr("fd20:ce::254"):    "GCP metadata (IPv6)",
	netip.MustParseAddr("168.63.129.16"):   "Azure WireServer",
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud metadata",
	netip.MustParseAddr("169.254.0.23"):    "Tencent Cloud metadata",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud Classic metadata",
}

// specialRanges are the IANA IPv4 and IPv6 special-purpose registries'
// entries that are not globally reachable destinations, plus the private,
// CGN, multicast and reserved blocks. The first match names the address, so
// narrower prefixes come first.
var specialRanges = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignment"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Prefixes whose addresses embed an IPv4 address that a translator will
// reach: the embedded address is classified instead.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// classify names what a is. a must have no zone and be unmapped.
func classify(a netip.Addr) (class, string) {
	if name, ok := metadataAddrs[a]; ok {
		return classMetadata, name
	}
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		var via string
		switch {
		case nat64Prefix.Contains(a):
			v4, via = netip.AddrFrom4([4]byte(b[12:16])), "NAT64"
		case sixToFour.Contains(a):
			v4, via = netip.AddrFrom4([4]byte(b[2:6])), "6to4"
		}
		if v4.IsValid() {
			c, name := classify(v4)
			if c == classPublic {
				return c, name
			}
			return c, name + " " + v4.String() + " via " + via
		}
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return classSpecial, r.name
		}
	}
	return classPublic, "public"
}
