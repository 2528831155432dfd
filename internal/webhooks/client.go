package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errAddressNotAllowed is a dial refused by addressAllowed.
var errAddressNotAllowed = errors.New("webhooks: callback address not allowed")

// Resolver looks up a host's addresses; *net.Resolver fits.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// newClient returns the HTTP client of one tenant's deliveries: it follows
// no redirects, uses no proxy, resolves a host once per connection and
// connects only to an address addressAllowed admits (checked before the
// dial, in the dialer's Control on the address actually dialed, and on the
// connected peer), and every attempt is bounded by timeout.
func newClient(res Resolver, private bool, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !addressAllowed(ap.Addr(), private) {
				return errAddressNotAllowed
			}
			return nil
		},
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else if ips, err = res.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("webhooks: resolve callback host: %w", err)
		}
		var last error = errAddressNotAllowed
		for _, ip := range ips {
			if !addressAllowed(ip, private) {
				continue
			}
			c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err != nil {
				last = err
				continue
			}
			peer, err := netip.ParseAddrPort(c.RemoteAddr().String())
			if err != nil || peer.Addr().Unmap() != ip.Unmap() {
				_ = c.Close()
				return nil, errAddressNotAllowed
			}
			return c, nil
		}
		return nil, last
	}
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dial,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}
