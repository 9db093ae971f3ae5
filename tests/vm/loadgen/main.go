// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// loadgen - a small static HTTP/1.1 load client for the VM cost tool
// (tests/vm/reqcost.sh): wrk is dynamically linked and needs LuaJIT, this
// builds with CGO_ENABLED=0 and runs in the busybox initramfs.
//
//	loadgen -addr HOST:PORT [-path /f] -n N -c C [-close]
//
// Makes exactly N GET requests from C workers. Without -close each worker
// keeps one connection alive for all its requests; with -close every request
// has a connection of its own (Connection: close, read to EOF, then close).
// Every response must be a 200 with the body its Content-Length announces,
// else loadgen fails: a cost per request is only as good as its count.
// Prints one line: "loadgen: requests N ok, S.sss s, R req/s".
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "", "server address host:port")
	path := flag.String("path", "/", "path to GET")
	n := flag.Int64("n", 1000, "requests in all")
	c := flag.Int("c", 10, "concurrent workers (connections)")
	closeEach := flag.Bool("close", false, "a new connection per request")
	flag.Parse()
	if *addr == "" || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "usage: loadgen -addr HOST:PORT [-path P] -n N -c C [-close]")
		os.Exit(2)
	}
	keep := "GET " + *path + " HTTP/1.1\r\nHost: loadgen\r\n\r\n"
	last := "GET " + *path + " HTTP/1.1\r\nHost: loadgen\r\nConnection: close\r\n\r\n"

	var left, done int64 = *n, 0
	// take one request from the shared budget; false when none is left
	take := func() bool { return atomic.AddInt64(&left, -1) >= 0 }
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}

	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < *c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for take() {
				if conn == nil {
					var err error
					if conn, err = net.Dial("tcp", *addr); err != nil {
						fail(err)
						return
					}
					br = bufio.NewReaderSize(conn, 16384)
				}
				req := keep
				if *closeEach {
					req = last
				}
				if _, err := io.WriteString(conn, req); err != nil {
					fail(err)
					return
				}
				if err := readResponse(br); err != nil {
					fail(err)
					return
				}
				if *closeEach {
					// the server closes: wait for its FIN, so the
					// connection's whole life falls inside the run
					if _, err := br.ReadByte(); err != io.EOF {
						fail(fmt.Errorf("bytes after a Connection: close response"))
						return
					}
					conn.Close()
					conn = nil
				}
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v after %d requests\n", firstErr, done)
		os.Exit(1)
	}
	fmt.Printf("loadgen: requests %d ok, %.3f s, %.0f req/s\n", done, secs, float64(done)/secs)
}

// readResponse reads one response with a Content-Length body and checks
// its status is 200.
func readResponse(br *bufio.Reader) error {
	status, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("status line: %v", err)
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200 ") {
		return fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	length := int64(-1)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("header: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, "Content-Length") {
			if length, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return fmt.Errorf("Content-Length %q", v)
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err = io.CopyN(io.Discard, br, length)
	return err
}
