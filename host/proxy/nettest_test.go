package proxy

import "net"

type netConn = net.Conn

func netDial(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
