// Command tsnet-ssm is a Tailscale node (tsnet) whose state — its machine
// key, node key and login — lives in AWS SSM Parameter Store as a
// SecureString encrypted under your own KMS key, so that it survives
// restarts of a container, task or instance with no disk, and so that
// ssm:GetParameter alone is not enough to impersonate it (reading it also
// takes kms:Decrypt on your key).
//
//	TS_AUTHKEY=tskey-auth-… go run ./examples/tsnet-ssm \
//	    -state 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' \
//	    -hostname node1
//
// The first run logs in with TS_AUTHKEY (or prints a login URL); later runs
// find the node's keys in SSM and come back as the same node with the same
// Tailscale IPs, without logging in. It serves a hello page on port 80 of
// the tailnet until interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tailscale.com/tsnet"

	"github.com/ssmstate/ssmstate/tsstate"
)

func main() {
	state := flag.String("state", "", "where the node's state lives: arn:aws:ssm:REGION:ACCOUNT:parameter/NAME?kmsKey=alias/KEY (also a file path)")
	hostname := flag.String("hostname", "tsnet-ssm", "the node's name on the tailnet")
	dir := flag.String("dir", "", "directory for tsnet's non-state files (default: the user config directory)")
	flag.Parse()
	if err := run(*state, *hostname, *dir); err != nil {
		slog.Error("tsnet-ssm", "err", err)
		os.Exit(1)
	}
}

func run(state, hostname, dir string) error {
	if state == "" {
		return errors.New("no -state: give the SSM parameter ARN the node's state lives in, e.g. -state 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The state store: one call, the same string `tailscaled --state=` takes.
	// AWS credentials and settings come from the usual places (environment,
	// shared config, the task or instance role).
	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	st, err := tsstate.New(openCtx, state)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close() // after the node: defers run last-in first-out

	srv := &tsnet.Server{
		Hostname: hostname,
		Store:    st,
		Dir:      dir,
	}
	defer srv.Close()

	status, err := srv.Up(ctx)
	if err != nil {
		return fmt.Errorf("bring the node up: %w", err)
	}
	slog.Info("node is up", "hostname", hostname, "ips", status.TailscaleIPs, "state_encrypted", st.Encrypted())

	ln, err := srv.Listen("tcp", ":80")
	if err != nil {
		return fmt.Errorf("listen on the tailnet: %w", err)
	}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s, whose state lives in SSM\n", hostname)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
