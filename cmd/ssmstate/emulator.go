package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/emulator"
)

func newEmulatorCmd() *cobra.Command {
	var (
		listen  string
		dataDir string
		account string
		latency time.Duration
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the local AWS endpoint (SSM Parameter Store, KMS, STS) until interrupted",
		Long: `Run the local AWS endpoint: SSM Parameter Store and KMS over AWS JSON 1.1 and
STS GetCallerIdentity, with SecureString values really encrypted under the
endpoint's KMS keys. Any credentials are accepted. Each Region (from the
request's signature) has its own parameters and keys.

It prints the environment to export so that the AWS CLI, the SDKs and
ssmstate itself talk to it, then serves until SIGINT or SIGTERM.
Without --data everything is kept in memory and lost on exit.`,
		Example: `  ssmstate emulator --listen 127.0.0.1:4566 --data ~/.ssmstate-emulator
  # in another shell, after pasting the printed exports:
  aws ssm put-parameter --name /demo/x --type SecureString --value hello`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.DiscardHandler)
			if verbose {
				logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			}
			return runEmulator(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), logger, listen, dataDir, account, latency)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:4566", "address to listen on (port 0 picks a free port)")
	f.StringVar(&dataDir, "data", "", "directory that keeps parameters and keys across restarts (default: in memory)")
	f.StringVar(&account, "account", emulator.DefaultAccount, "12-digit account id that owns the endpoint's resources")
	f.DurationVar(&latency, "latency", 0, "delay added to every call, e.g. 20ms, to feel like a remote Region")
	f.BoolVarP(&verbose, "verbose", "v", false, "log to stderr")
	return cmd
}

func runEmulator(ctx context.Context, stdout, stderr io.Writer, logger *slog.Logger, listen, dataDir, account string, latency time.Duration) error {
	if len(account) != 12 || !allDigits(account) {
		return usageError{fmt.Errorf("--account %q is not a 12-digit AWS account id; give e.g. --account 123456789012", account)}
	}
	opts := []emulator.Option{emulator.WithAddr(listen), emulator.WithAccount(account), emulator.WithLogger(logger)}
	if dataDir != "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return fmt.Errorf("create the data directory %s: %w", dataDir, err)
		}
		opts = append(opts, emulator.WithDataDir(dataDir))
	}
	if latency > 0 {
		opts = append(opts, emulator.WithLatency(latency))
	}
	srv, err := emulator.Start(opts...)
	if err != nil {
		return fmt.Errorf("start the local AWS endpoint on %s: %w (is another one running? pick another --listen port)", listen, err)
	}
	where := "in memory (lost on exit)"
	if dataDir != "" {
		where = "in " + dataDir
	}
	fmt.Fprintf(stderr, "ssmstate emulator: serving SSM, KMS and STS at %s for account %s, data %s.\n", srv.URL, account, where)
	fmt.Fprintf(stderr, "Export this environment to use it (any credentials work), stop with Ctrl-C:\n")
	fmt.Fprintf(stdout, "export AWS_ENDPOINT_URL=%s\n", srv.URL)
	fmt.Fprintf(stdout, "export AWS_REGION=%s\n", emulator.DefaultRegion)
	fmt.Fprintf(stdout, "export AWS_DEFAULT_REGION=%s\n", emulator.DefaultRegion) // AWS CLI v1 reads only this one
	fmt.Fprintf(stdout, "export AWS_ACCESS_KEY_ID=%s\n", emulator.DummyAccessKeyID)
	fmt.Fprintf(stdout, "export AWS_SECRET_ACCESS_KEY=%s\n", emulator.DummySecretAccessKey)
	<-ctx.Done()
	fmt.Fprintln(stderr, "ssmstate emulator: shutting down")
	if err := srv.Close(); err != nil {
		return fmt.Errorf("shut down the local AWS endpoint: %w", err)
	}
	return nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
