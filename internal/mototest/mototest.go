// Package mototest starts the preinstalled moto_server for tests that hold
// the local endpoint's plain-SSM behaviour against a second implementation.
package mototest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start starts moto_server on a free loopback port and returns its URL; it
// is killed when the test ends. CI provides moto (.ci/run checks it), so a
// missing moto fails the test rather than skipping it.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".pyenv", "shims", "moto_server")
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("moto_server not found on PATH or in ~/.pyenv/shims; install it with pip install 'moto[server]' or run .ci/run")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return url
		}
		select {
		case err := <-exited:
			t.Fatalf("moto_server exited: %v\n%s", err, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer within 2 minutes: %v", err)
		}
	}
}
