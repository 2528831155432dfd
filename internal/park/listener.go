package park

import (
	"errors"
	"net"
	"sync"
)

// Listener is a listener that also hands the server the connections a
// Lot took over and gives back (Resume): a parked request, once answered,
// goes on as a keep-alive connection. One goroutine
// accepts from the inner listener; it ends when the listener is closed.
type Listener struct {
	net.Listener
	accepted chan net.Conn
	resumed  chan net.Conn
	errs     chan error
	done     chan struct{}
	close    sync.Once
	pumped   sync.WaitGroup
}

// resumeBacklog is how many given-back connections may wait for Accept:
// a finished task gives back the connections of all its waiters at once,
// and handing each over must not wait for the server's accept loop.
const resumeBacklog = 4096

// NewListener wraps inner; the server serves the result, and the Lot
// gives connections back to it.
func NewListener(inner net.Listener) *Listener {
	l := &Listener{
		Listener: inner,
		accepted: make(chan net.Conn),
		resumed:  make(chan net.Conn, resumeBacklog),
		errs:     make(chan error),
		done:     make(chan struct{}),
	}
	l.pumped.Go(l.pump)
	return l
}

func (l *Listener) pump() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case l.errs <- err: // the server backs off on temporary errors
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case l.accepted <- c:
		case <-l.done:
			_ = c.Close()
			return
		}
	}
}

// Accept returns the next new or resumed connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.resumed:
		return c, nil
	case c := <-l.accepted:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Resume hands c to the server as if just accepted; false once the
// listener is closed (the caller then closes c).
func (l *Listener) Resume(c net.Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.resumed <- c:
		select {
		case <-l.done: // closed meanwhile: Close's drain may have run before the send
			l.drain()
		default:
		}
		return true
	case <-l.done:
		return false
	}
}

// drain closes the given-back connections nobody accepted.
func (l *Listener) drain() {
	for {
		select {
		case c := <-l.resumed:
			_ = c.Close()
		default:
			return
		}
	}
}

// Accepting reports whether the listener still hands connections to the
// server: an answer on a connection to be given back says so.
func (l *Listener) Accepting() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

// Close stops accepting and waits for the accepting goroutine to end.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.close.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		l.pumped.Wait()
		l.drain()
	})
	return err
}
