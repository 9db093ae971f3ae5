// Command h2server is the HTTP/2 oracle for connstate: cleartext HTTP/2
// (h2c) served by golang.org/x/net/http2, whose ConnState calls print, per
// client connection, the lines connstate must reproduce from the kernel.
//
// A connection that starts with the client preface (prior knowledge) is
// served the way net/http serves HTTP/2 over TLS: "new" at accept,
// http2.Server.ServeConn with BaseConfig set to the http.Server (so x/net
// calls its ConnState hook: active/idle), "closed" when ServeConn returns.
// Any other connection goes to a net/http Server with h2c.NewHandler, which
// takes an "Upgrade: h2c" request over (hijacked) and then serves HTTP/2
// with the same hook. With -tls it is net/http over crypto/tls instead
// (tls.go).
//
// Build in GOPATH mode with Debian's golang-golang-x-net-dev:
// GO111MODULE=off GOPATH=$work:/usr/share/gocode go build
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func hook(c net.Conn, cs http.ConnState) {
	// os.Stdout is unbuffered: one write(2) per line, never interleaved.
	fmt.Fprintf(os.Stdout, "Client: %s - new state: %s\n", c.RemoteAddr(), cs)
}

// bufConn hands ServeConn the bytes peeked to recognise the preface.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// chanListener feeds accepted HTTP/1 connections to an http.Server.
type chanListener struct {
	ch   chan net.Conn
	addr net.Addr
}

func (l *chanListener) Accept() (net.Conn, error) { return <-l.ch, nil }
func (l *chanListener) Close() error              { return nil }
func (l *chanListener) Addr() net.Addr            { return l.addr }

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "h2server:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening %s\n", ln.Addr())
	if *useTLS {
		fmt.Fprintln(os.Stderr, "h2server:", serveTLS(ln))
		os.Exit(1)
	}

	h2s := &http2.Server{}
	base := &http.Server{Handler: routes(), ConnState: hook}
	h1 := &http.Server{
		Handler: h2c.NewHandler(routes(), h2s),
		ConnState: func(c net.Conn, cs http.ConnState) {
			// "new" was printed at accept, before the first bytes
			if cs != http.StateNew {
				hook(c, cs)
			}
		},
	}
	h1l := &chanListener{ch: make(chan net.Conn), addr: ln.Addr()}
	go h1.Serve(h1l)

	preface := []byte(http2.ClientPreface)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "h2server:", err)
			os.Exit(1)
		}
		hook(c, http.StateNew)
		go func(c net.Conn) {
			br := bufio.NewReader(c)
			got, _ := br.Peek(len(preface))
			bc := &bufConn{Conn: c, r: br}
			if len(got) > 0 && !bytes.HasPrefix(preface, got[:min(len(got), len(preface))]) {
				h1l.ch <- bc
				return
			}
			if len(got) < len(preface) {
				// a short prefix of the preface, then EOF: net/http's
				// TLS path would never have reached HTTP/2
				c.Close()
				hook(c, http.StateClosed)
				return
			}
			h2s.ServeConn(bc, &http2.ServeConnOpts{BaseConfig: base, Handler: base.Handler})
			hook(c, http.StateClosed)
		}(c)
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		// ignores r.Context(): a reset stream still sleeps
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slow\n")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'a' + byte(i%26)
		}
		for n > 0 {
			k := int64(len(buf))
			if n < k {
				k = n
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10)+"\n")
	})
	return mux
}
