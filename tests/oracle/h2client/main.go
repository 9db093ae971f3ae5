// Command h2client plays HTTP/2 (h2c) scenarios against the oracle server
// with x/net/http2's Framer and HPACK encoder, so every byte is chosen here
// and each run sends the same frames. It prints "conn <local addr>" for
// every connection it opens (run_h2.sh matches the server's lines on it).
//
// Build in GOPATH mode with Debian's golang-golang-x-net-dev:
// GO111MODULE=off GOPATH=$work:/usr/share/gocode go build
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type client struct {
	c    net.Conn
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	// streams whose response ended (END_STREAM or RST_STREAM)
	ended map[uint32]bool
}

var scenarios = map[string]func(addr string) error{
	"get_1":         get1,
	"get_3_seq":     get3Seq,
	"concurrent_3":  concurrent3,
	"preface_close": prefaceClose,
	"big_then_get":  bigThenGet,
	"post_body":     postBody,
	"rst_client":    rstClient,
	"overlap_seq":   overlapSeq,
	"upgrade":       upgrade,
	"garbage":       garbage,
	"concurrent_20": concurrent20,
	"split_frames":  splitFrames,
}

func main() {
	addr := flag.String("addr", "", "server address host:port")
	name := flag.String("scenario", "", "scenario to run")
	list := flag.Bool("list", false, "print scenario names and exit")
	flag.Parse()
	if *useTLS {
		tlsScenarios()
	}
	if *list {
		names := make([]string, 0, len(scenarios))
		for n := range scenarios {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Println(n)
		}
		return
	}
	f, ok := scenarios[*name]
	if *addr == "" || !ok {
		fmt.Fprintln(os.Stderr, "usage: h2client -addr HOST:PORT -scenario NAME | h2client -list")
		os.Exit(2)
	}
	if err := f(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "h2client:", err)
		os.Exit(1)
	}
}

func dial(addr string) (*client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("conn %s\n", c.LocalAddr())
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if *useTLS {
		if c, err = tlsWrap(c, "h2"); err != nil {
			return nil, err
		}
	}
	cl := &client{c: c, ended: map[uint32]bool{}}
	cl.fr = http2.NewFramer(c, c)
	cl.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cl.fr.MaxHeaderListSize = 1 << 20
	cl.enc = hpack.NewEncoder(&cl.hbuf)
	return cl, nil
}

// start sends the preface and a SETTINGS frame with a large window, and
// opens the connection's window, so big responses need no WINDOW_UPDATE.
func (cl *client) start() error {
	if _, err := io.WriteString(cl.c, http2.ClientPreface); err != nil {
		return err
	}
	if err := cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		return err
	}
	return cl.fr.WriteWindowUpdate(0, 1<<30)
}

func (cl *client) headers(id uint32, method, path string, end bool) error {
	cl.hbuf.Reset()
	for _, f := range [][2]string{{":method", method}, {":scheme", scheme()},
		{":path", path}, {":authority", "oracle"}} {
		cl.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id,
		BlockFragment: cl.hbuf.Bytes(), EndStream: end, EndHeaders: true})
}

// wait reads frames until every stream in ids has ended, acking SETTINGS.
func (cl *client) wait(ids ...uint32) error {
	for {
		done := true
		for _, id := range ids {
			if !cl.ended[id] {
				done = false
			}
		}
		if done {
			return nil
		}
		f, err := cl.fr.ReadFrame()
		if err != nil {
			return fmt.Errorf("waiting for streams %v: %v", ids, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				cl.fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamEnded() {
				cl.ended[f.StreamID] = true
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				cl.ended[f.StreamID] = true
			}
		case *http2.RSTStreamFrame:
			cl.ended[f.StreamID] = true
		case *http2.GoAwayFrame:
			return fmt.Errorf("GOAWAY %v", f.ErrCode)
		}
	}
}

// drain reads until the server closes the connection.
func (cl *client) drain() error {
	_, err := io.Copy(io.Discard, cl.c)
	return err
}

func run(addr string, f func(cl *client) error) error {
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	defer cl.c.Close()
	if err := cl.start(); err != nil {
		return err
	}
	return f(cl)
}

func get1(addr string) error {
	return run(addr, func(cl *client) error {
		if err := cl.headers(1, "GET", "/", true); err != nil {
			return err
		}
		return cl.wait(1)
	})
}

func get3Seq(addr string) error {
	return run(addr, func(cl *client) error {
		for _, id := range []uint32{1, 3, 5} {
			if err := cl.headers(id, "GET", "/", true); err != nil {
				return err
			}
			if err := cl.wait(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// concurrent_3: three slow streams in one write; all are open before the
// first ends, so Go sees 0->1 once and 1->0 once.
func concurrent3(addr string) error {
	return run(addr, func(cl *client) error {
		for _, id := range []uint32{1, 3, 5} {
			if err := cl.headers(id, "GET", "/slow?ms=300", true); err != nil {
				return err
			}
		}
		return cl.wait(1, 3, 5)
	})
}

func prefaceClose(addr string) error {
	return run(addr, func(cl *client) error {
		// the server's SETTINGS: it has read the preface by then
		for {
			f, err := cl.fr.ReadFrame()
			if err != nil {
				return err
			}
			if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
				return nil
			}
		}
	})
}

func bigThenGet(addr string) error {
	return run(addr, func(cl *client) error {
		if err := cl.headers(1, "GET", "/big?n=1048576", true); err != nil {
			return err
		}
		if err := cl.wait(1); err != nil {
			return err
		}
		if err := cl.headers(3, "GET", "/", true); err != nil {
			return err
		}
		return cl.wait(3)
	})
}

func postBody(addr string) error {
	return run(addr, func(cl *client) error {
		if err := cl.headers(1, "POST", "/upload", false); err != nil {
			return err
		}
		chunk := bytes.Repeat([]byte("x"), 16384)
		for i := 0; i < 4; i++ {
			if err := cl.fr.WriteData(1, i == 3, chunk); err != nil {
				return err
			}
		}
		return cl.wait(1)
	})
}

// rst_client: a slow request the client resets, then a GET that must work.
func rstClient(addr string) error {
	return run(addr, func(cl *client) error {
		if err := cl.headers(1, "GET", "/slow?ms=500", true); err != nil {
			return err
		}
		// the server's SETTINGS first, so the reset is not raced by the
		// stream's creation on the server
		time.Sleep(100 * time.Millisecond)
		if err := cl.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
		if err := cl.headers(3, "GET", "/", true); err != nil {
			return err
		}
		return cl.wait(3)
	})
}

func overlapSeq(addr string) error {
	return run(addr, func(cl *client) error {
		for _, id := range []uint32{1, 3} {
			if err := cl.headers(id, "GET", "/slow?ms=300", true); err != nil {
				return err
			}
		}
		if err := cl.wait(1, 3); err != nil {
			return err
		}
		if err := cl.headers(5, "GET", "/", true); err != nil {
			return err
		}
		return cl.wait(5)
	})
}

// upgrade: HTTP/1.1 with Upgrade: h2c; the request becomes stream 1.
func upgrade(addr string) error {
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	defer cl.c.Close()
	var sb bytes.Buffer
	fr := http2.NewFramer(&sb, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	settings := base64.RawURLEncoding.EncodeToString(sb.Bytes()[9:])
	req := "GET / HTTP/1.1\r\nHost: oracle\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
		"Upgrade: h2c\r\nHTTP2-Settings: " + settings + "\r\n\r\n"
	if _, err := io.WriteString(cl.c, req); err != nil {
		return err
	}
	br := bufio.NewReader(cl.c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %s", resp.Status)
	}
	cl.fr = http2.NewFramer(cl.c, br)
	cl.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := cl.start(); err != nil {
		return err
	}
	return cl.wait(1)
}

// concurrent_20: twenty slow streams in one write, all open at once.
func concurrent20(addr string) error {
	return run(addr, func(cl *client) error {
		var ids []uint32
		for id := uint32(1); id < 40; id += 2 {
			if err := cl.headers(id, "GET", "/slow?ms=300", true); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return cl.wait(ids...)
	})
}

// split_frames: a POST whose HEADERS and DATA frames are each cut into
// pieces written apart, so the server reads every frame in several reads
// (over TLS: several records, one Read each).
func splitFrames(addr string) error {
	return run(addr, func(cl *client) error {
		var b bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		cl.hbuf.Reset()
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", scheme()},
			{":path", "/upload"}, {":authority", "oracle"}} {
			cl.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1,
			BlockFragment: cl.hbuf.Bytes(), EndHeaders: true})
		hl := b.Len()
		fr.WriteData(1, true, bytes.Repeat([]byte("y"), 100))
		raw := b.Bytes()
		for _, cut := range [][2]int{{0, 4}, {4, 11}, {11, hl}, {hl, hl + 5},
			{hl + 5, hl + 60}, {hl + 60, len(raw)}} {
			if _, err := cl.c.Write(raw[cut[0]:cut[1]]); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cl.wait(1)
	})
}

func garbage(addr string) error {
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	defer cl.c.Close()
	if _, err := io.WriteString(cl.c, http2.ClientPreface+"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	if err := cl.drain(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
