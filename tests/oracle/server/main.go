// Command server is the oracle for connstate: a plain net/http server whose
// ConnState hook prints, per client connection, the lines connstate must
// reproduce from the kernel.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	// Scripts read the real port from here; stdout carries only state lines.
	fmt.Fprintf(os.Stderr, "listening %s\n", ln.Addr())

	srv := &http.Server{
		Handler: routes(),
		// os.Stdout is unbuffered and each line is one write(2), so lines
		// from concurrent connections never interleave mid-line.
		ConnState: func(c net.Conn, cs http.ConnState) {
			fmt.Fprintf(os.Stdout, "Client: %s - new state: %s\n", c.RemoteAddr(), cs)
		},
	}
	if ln, err = maybeTLS(ln, srv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		writeSmall(w, "hello\n")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// Deliberately ignores r.Context(): the response is written even
		// when the client has already gone.
		time.Sleep(2 * time.Second)
		writeSmall(w, "slow\n")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, ok := sizeParam(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		writeN(w, n, 64<<10, false)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		n, ok := sizeParam(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		// No Content-Length and an early flush: Go must use chunked framing.
		writeN(w, n, 16<<10, true)
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeSmall(w, strconv.FormatInt(n, 10)+"\n")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/hijack", hijack)
	return mux
}

func writeSmall(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	io.WriteString(w, body)
}

func sizeParam(w http.ResponseWriter, r *http.Request) (int64, bool) {
	n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "bad n", http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// writeN writes n bytes in pieces of size piece, flushing after each if asked.
func writeN(w http.ResponseWriter, n int64, piece int, flush bool) {
	buf := make([]byte, piece)
	for i := range buf {
		buf[i] = 'a' + byte(i%26)
	}
	f, _ := w.(http.Flusher)
	for n > 0 {
		k := int64(len(buf))
		if n < k {
			k = n
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		if flush && f != nil {
			f.Flush()
		}
		n -= k
	}
}

// hijack takes the connection over after the headers, answers 101 itself and
// echoes until the client closes: Go reports "hijacked" and never "closed".
func hijack(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "no hijack", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	const resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
	if _, err := io.WriteString(conn, resp); err != nil {
		return
	}
	// brw.Reader may already hold bytes the client sent after the headers.
	io.Copy(conn, brw.Reader)
}
