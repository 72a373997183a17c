package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/demo"
)

func newDemoCmd() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A short tour on an in-process local AWS endpoint: no AWS account, no set-up",
		Long: `Start the local AWS endpoint in this process with IAM access control on, and
show, step by step: a customer KMS key and alias; a node storing a
Tailscale-like state under

  ` + demo.Locator + `

with exactly the policy "ssmstate policy" generates; a restarted node reading
it back; "ssmstate doctor"; a principal allowed ssm:GetParameter* on every
parameter denied the state; rotation to another key, after which the old key
is disabled and not needed; and the CloudTrail audit of it all. Nothing
leaves this process and no state value is printed.

With --keep the endpoint keeps running after the tour, with the state in it,
until interrupted; the exports it prints point the AWS CLI and the other
ssmstate commands at it as the demo's admin.`,
		Example: `  go run ./cmd/ssmstate demo
  ssmstate demo --keep     # then, in another shell, with the printed exports:
                           #   ssmstate show '` + demo.NewLocator + `'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			tour, err := demo.Run(ctx, cmd.OutOrStdout(), demo.Options{Keep: keep})
			cancel()
			defer tour.Close()
			if err != nil {
				return fmt.Errorf("the demo stopped: %w", err)
			}
			if !keep {
				return nil
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "\nThe endpoint keeps running (Ctrl-C stops it). In another shell:")
			for _, kv := range tour.Env() {
				fmt.Fprintf(out, "export %s\n", kv)
			}
			fmt.Fprintf(out, "ssmstate show '%s'\n", demo.NewLocator)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the endpoint running after the tour and print the exports that point other commands at it")
	return cmd
}
