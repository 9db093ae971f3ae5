// Command client drives byte-exact HTTP/1.x traffic at the oracle server over
// raw TCP (no net/http client, whose pooling and retries would blur the
// per-connection sequences). It prints "conn <local addr>" for every
// connection it opens, so a script can find that connection's lines in the
// server's and connstate's output.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	timeout = 10 * time.Second
	get     = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	bigSize = 10 << 20
	upSize  = 1 << 20
	// big_paced: bodies taken at pacedRate through a pacedBuf receive
	// buffer, as a remote client takes them
	pacedSize = 4 << 20
	pacedBuf  = 64 << 10
	pacedRate = 20 << 20 // bytes per second
)

type scenario struct {
	name string
	run  func(addr string) error
}

// Names are a contract with run.sh and expected.txt.
var scenarios = []scenario{
	{"nothing", nothing},
	{"partial_header", partialHeader},
	{"garbage", garbage},
	{"keepalive_1", keepalive(1)},
	{"keepalive_3", keepalive(3)},
	{"pipelined_2", pipelined(2)},
	{"pipelined_3", pipelined(3)},
	{"conn_close", untilEOF("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200)},
	{"http10", untilEOF("GET / HTTP/1.0\r\n\r\n", 200)},
	{"http10_keepalive", http10Keepalive},
	{"slow_wait", slowWait},
	{"slow_early_close", slowEarlyClose},
	{"big_full", bigFull},
	{"big_abandon", bigAbandon},
	{"big_paced", bigPaced},
	{"chunked_full", chunkedFull},
	{"upload_1m", upload(false)},
	{"upload_1m_expect", upload(true)},
	{"head", head},
	{"no_content", noContent},
	{"hijack", hijack},
	{"header_too_large", headerTooLarge},
	{"trickle", trickle},
	{"long_line_8k", longLine(8200, false)},
	{"long_line_64k", longLine(64<<10, false)},
	{"long_line_64k_pipelined", longLine(64<<10, true)},
	{"header_60k", bigHeaderBlock(60 << 10)},
}

func main() {
	addr := flag.String("addr", "", "server address host:port")
	name := flag.String("scenario", "", "scenario to run")
	list := flag.Bool("list", false, "print scenario names and exit")
	flag.Parse()
	if *useTLS {
		scenarios = append(scenarios, tlsScenarios...)
	}

	if *list {
		for _, s := range scenarios {
			fmt.Println(s.name)
		}
		return
	}
	if *addr == "" || *name == "" {
		fmt.Fprintln(os.Stderr, "usage: client -addr HOST:PORT -scenario NAME | client -list")
		os.Exit(2)
	}
	for _, s := range scenarios {
		if s.name == *name {
			if err := s.run(*addr); err != nil {
				fmt.Fprintf(os.Stderr, "client: %s: %v\n", s.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "client: unknown scenario %q\n", *name)
	os.Exit(2)
}

type conn struct {
	net.Conn
	br *bufio.Reader
}

func dial(addr string) (*conn, error) {
	return dialWith(addr, net.Dialer{})
}

func dialWith(addr string, d net.Dialer) (*conn, error) {
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	fmt.Printf("conn %s\n", c.LocalAddr())
	// Bounds every scenario: a stuck server fails the run instead of hanging it.
	c.SetDeadline(time.Now().Add(timeout))
	if *useTLS {
		if c, err = tlsWrap(c); err != nil {
			return nil, err
		}
	}
	return &conn{Conn: c, br: bufio.NewReader(c)}, nil
}

func (c *conn) send(s string) error {
	_, err := io.WriteString(c, s)
	return err
}

// expect reads one response and checks its status (and body, if want is set).
func (c *conn) expect(method string, status int, want string) (*response, error) {
	r, err := readResponse(c.br, method)
	if err != nil {
		return nil, err
	}
	if r.status != status {
		return r, fmt.Errorf("%s: status %d, want %d", method, r.status, status)
	}
	if want != "" && string(r.body) != want {
		return r, fmt.Errorf("%s: body %q, want %q", method, r.body, want)
	}
	return r, nil
}

// expectEOF checks that the server closes the connection with nothing more
// to say.
func (c *conn) expectEOF() error {
	n, err := io.Copy(io.Discard, c.br)
	if err != nil {
		return fmt.Errorf("waiting for EOF: %v", err)
	}
	if n != 0 {
		return fmt.Errorf("%d unexpected bytes before EOF", n)
	}
	return nil
}

type response struct {
	status int
	header map[string]string // lower-case names; repeated names joined by ","
	length int64             // body bytes read
	body   []byte            // first few KiB of the body
}

const keepBody = 4 << 10

// readResponse reads one response, framed as RFC 9112 says: no body for
// HEAD/1xx/204/304, else chunked, else Content-Length, else until EOF.
func readResponse(br *bufio.Reader, method string) (*response, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, fmt.Errorf("reading status line: %v", err)
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r := &response{header: map[string]string{}}
	if r.status, err = strconv.Atoi(f[1]); err != nil || len(f[1]) != 3 {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	for {
		h, err := readLine(br)
		if err != nil {
			return nil, fmt.Errorf("reading headers: %v", err)
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", h)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if old, ok := r.header[k]; ok {
			v = old + "," + v
		}
		r.header[k] = v
	}

	body := &capture{}
	switch {
	case method == "HEAD" || r.status/100 == 1 || r.status == 204 || r.status == 304:
	case strings.Contains(strings.ToLower(r.header["transfer-encoding"]), "chunked"):
		if err := readChunked(br, body); err != nil {
			return nil, err
		}
	case r.header["content-length"] != "":
		n, err := strconv.ParseInt(r.header["content-length"], 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length %q", r.header["content-length"])
		}
		if _, err := io.CopyN(body, br, n); err != nil {
			return nil, fmt.Errorf("reading body: %v after %d of %d bytes", err, body.n, n)
		}
	default:
		if _, err := io.Copy(body, br); err != nil {
			return nil, fmt.Errorf("reading body to EOF: %v", err)
		}
	}
	r.length, r.body = body.n, body.buf.Bytes()
	return r, nil
}

func readChunked(br *bufio.Reader, w io.Writer) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return fmt.Errorf("reading chunk size: %v", err)
		}
		sz, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size line %q", line)
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(w, br, n); err != nil {
			return fmt.Errorf("reading chunk: %v", err)
		}
		if crlf, err := readLine(br); err != nil || crlf != "" {
			return fmt.Errorf("chunk not followed by CRLF (%q, %v)", crlf, err)
		}
	}
	for { // trailers
		line, err := readLine(br)
		if err != nil {
			return fmt.Errorf("reading trailers: %v", err)
		}
		if line == "" {
			return nil
		}
	}
}

func readLine(br *bufio.Reader) (string, error) {
	s, err := br.ReadString('\n')
	if err != nil {
		if err == io.EOF && s != "" {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if !strings.HasSuffix(s, "\r\n") {
		return "", fmt.Errorf("line %q not ended by CRLF", s)
	}
	return s[:len(s)-2], nil
}

// capture counts everything written and keeps the first keepBody bytes.
type capture struct {
	buf bytes.Buffer
	n   int64
}

func (c *capture) Write(p []byte) (int, error) {
	if room := keepBody - c.buf.Len(); room > 0 {
		if room > len(p) {
			room = len(p)
		}
		c.buf.Write(p[:room])
	}
	c.n += int64(len(p))
	return len(p), nil
}

// isReset reports errors a client sees when the server closes with unread
// data on its side (RST instead of FIN).
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// --- scenarios ---

func nothing(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	return c.Close()
}

func partialHeader(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		return err
	}
	// Gives the server time to read the partial header before the FIN.
	time.Sleep(200 * time.Millisecond)
	return nil
}

func garbage(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("HELLO THERE\r\n\r\n"); err != nil {
		return err
	}
	if _, err := c.expect("GET", 400, ""); err != nil {
		return err
	}
	return c.expectEOF()
}

func keepalive(n int) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < n; i++ {
			if err := c.send(get); err != nil {
				return err
			}
			if _, err := c.expect("GET", 200, "hello\n"); err != nil {
				return fmt.Errorf("request %d: %v", i+1, err)
			}
		}
		return nil
	}
}

func pipelined(n int) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.send(strings.Repeat(get, n)); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if _, err := c.expect("GET", 200, "hello\n"); err != nil {
				return fmt.Errorf("response %d: %v", i+1, err)
			}
		}
		return nil
	}
}

// untilEOF sends req, expects one response and then the server's close.
func untilEOF(req string, status int) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.send(req); err != nil {
			return err
		}
		if _, err := c.expect("GET", status, ""); err != nil {
			return err
		}
		return c.expectEOF()
	}
}

func http10Keepalive(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"); err != nil {
		return err
	}
	r, err := c.expect("GET", 200, "hello\n")
	if err != nil {
		return err
	}
	if !strings.EqualFold(r.header["connection"], "keep-alive") {
		return fmt.Errorf("server did not keep the HTTP/1.0 connection alive (Connection: %q)", r.header["connection"])
	}
	return nil
}

func slowWait(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	_, err = c.expect("GET", 200, "slow\n")
	return err
}

func slowEarlyClose(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	if err := c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return err
	}
	// Leave while the handler sleeps; it still writes its response later.
	time.Sleep(300 * time.Millisecond)
	return c.Close()
}

func bigFull(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send(fmt.Sprintf("GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", bigSize)); err != nil {
		return err
	}
	r, err := c.expect("GET", 200, "")
	if err != nil {
		return err
	}
	if r.length != bigSize {
		return fmt.Errorf("body %d bytes, want %d", r.length, bigSize)
	}
	return nil
}

// paced sleeps after each read for as long as its bytes take at pacedRate.
type paced struct{ r io.Reader }

func (p paced) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	time.Sleep(time.Duration(n) * time.Second / pacedRate)
	return n, err
}

// bigPaced: two 4 MiB bodies on one connection taken at about 20 MB/s
// through a 64 KiB receive buffer, so the server's writes spread over the
// transfer (connstate sends those made after it has read a head uncopied,
// and must still frame the second response).
func bigPaced(addr string) error {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, pacedBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := dialWith(addr, d)
	if err != nil {
		return err
	}
	defer c.Close()
	c.br = bufio.NewReaderSize(paced{c.Conn}, pacedBuf)
	for i := 0; i < 2; i++ {
		if err := c.send(fmt.Sprintf("GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", pacedSize)); err != nil {
			return err
		}
		r, err := c.expect("GET", 200, "")
		if err != nil {
			return err
		}
		if r.length != pacedSize {
			return fmt.Errorf("body %d bytes, want %d", r.length, pacedSize)
		}
	}
	return nil
}

func bigAbandon(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send(fmt.Sprintf("GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", bigSize)); err != nil {
		return err
	}
	line, err := readLine(c.br)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		return fmt.Errorf("status line %q", line)
	}
	if _, err := io.CopyN(io.Discard, c.br, 64<<10); err != nil {
		return err
	}
	// Closing with unread data makes the kernel send RST, so the server's
	// next write fails mid-response.
	return nil
}

func chunkedFull(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	const n = 1 << 20
	if err := c.send(fmt.Sprintf("GET /chunked?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)); err != nil {
		return err
	}
	r, err := c.expect("GET", 200, "")
	if err != nil {
		return err
	}
	if te := r.header["transfer-encoding"]; te != "chunked" {
		return fmt.Errorf("Transfer-Encoding %q, want chunked", te)
	}
	if r.length != n {
		return fmt.Errorf("body %d bytes, want %d", r.length, n)
	}
	return nil
}

func upload(expect100 bool) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		hdr := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", upSize)
		if expect100 {
			hdr += "Expect: 100-continue\r\n"
		}
		if err := c.send(hdr + "\r\n"); err != nil {
			return err
		}
		if expect100 {
			if _, err := c.expect("POST", 100, ""); err != nil {
				return fmt.Errorf("waiting for 100 Continue: %v", err)
			}
		}
		if _, err := c.Write(bytes.Repeat([]byte{'u'}, upSize)); err != nil {
			return err
		}
		_, err = c.expect("POST", 200, fmt.Sprintf("%d\n", upSize))
		return err
	}
}

func head(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	r, err := c.expect("HEAD", 200, "")
	if err != nil {
		return err
	}
	if r.header["content-length"] != "6" {
		return fmt.Errorf("HEAD: Content-Length %q, want 6", r.header["content-length"])
	}
	if err := c.send(get); err != nil {
		return err
	}
	_, err = c.expect("GET", 200, "hello\n")
	return err
}

func noContent(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	if _, err := c.expect("GET", 204, ""); err != nil {
		return err
	}
	if err := c.send("GET /notmodified HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	_, err = c.expect("GET", 304, "")
	return err
}

func hijack(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); err != nil {
		return err
	}
	if _, err := c.expect("GET", 101, ""); err != nil {
		return err
	}
	if err := c.send("ping"); err != nil {
		return err
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return fmt.Errorf("reading echo: %v", err)
	}
	if string(buf) != "ping" {
		return fmt.Errorf("echo %q, want \"ping\"", buf)
	}
	return nil
}

func headerTooLarge(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// 1.1 MiB of one header line: over Go's 1 MiB MaxHeaderBytes plus its
	// 4 KiB slack. The server stops reading part way, so write concurrently.
	req := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 1100<<10) + "\r\n\r\n"
	werr := make(chan error, 1)
	go func() { werr <- c.send(req) }()
	if _, err := c.expect("GET", 431, ""); err != nil {
		return err
	}
	// The server half-closes, then closes with our unread bytes pending, so
	// either EOF or a reset ends the connection.
	if _, err := io.Copy(io.Discard, c.br); err != nil && !isReset(err) {
		return fmt.Errorf("waiting for close: %v", err)
	}
	c.Close()
	if err := <-werr; err != nil && !isReset(err) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("writing request: %v", err)
	}
	return nil
}

// trickle sends a request one byte per segment, as a slow client would: the
// server reads it in tiny pieces, and is active only once it is complete.
func trickle(addr string) error {
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n") {
		if err := c.send(string(b)); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, err = c.expect("GET", 200, "")
	return err
}

// longTarget is a request target of n bytes in all, a long query string as
// tokens and search forms make them.
func longTarget(n int) string {
	const path = "/?q="
	return path + strings.Repeat("q", n-len(path))
}

// longLine sends a request whose request line is about n bytes, then a
// normal one: in a second write after the first response, or pipelined in
// the same write. Go reads both (its MaxHeaderBytes is 1 MiB).
func longLine(n int, pipelined bool) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		req := "GET " + longTarget(n-len("GET  HTTP/1.1\r\n")) + " HTTP/1.1\r\nHost: x\r\n\r\n"
		if pipelined {
			req += get
		}
		if err := c.send(req); err != nil {
			return err
		}
		if _, err := c.expect("GET", 200, "hello\n"); err != nil {
			return fmt.Errorf("long request: %v", err)
		}
		if !pipelined {
			if err := c.send(get); err != nil {
				return err
			}
		}
		if _, err := c.expect("GET", 200, "hello\n"); err != nil {
			return fmt.Errorf("request after the long one: %v", err)
		}
		return nil
	}
}

// bigHeaderBlock sends a short request line with a header block of about n
// bytes in many fields, then a normal request.
func bigHeaderBlock(n int) func(string) error {
	return func(addr string) error {
		c, err := dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "X-Field-%d: %s\r\n", i, strings.Repeat("h", 100))
		}
		b.WriteString("\r\n")
		if err := c.send(b.String()); err != nil {
			return err
		}
		if _, err := c.expect("GET", 200, "hello\n"); err != nil {
			return fmt.Errorf("big header block: %v", err)
		}
		if err := c.send(get); err != nil {
			return err
		}
		if _, err := c.expect("GET", 200, "hello\n"); err != nil {
			return fmt.Errorf("request after the big header block: %v", err)
		}
		return nil
	}
}
