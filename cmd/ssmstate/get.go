package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/store"
)

func newGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get LOCATOR KEY",
		Short: "Print one key's value (raw bytes) to standard output",
		Long: `Print the value of KEY in the state LOCATOR names, as raw bytes with no
trailing newline, to standard output. A KEY that does not exist is an error
(exit 1); list the keys with "ssmstate ls LOCATOR".

The value is a secret: redirect it to a file or a pipe rather than a terminal.`,
		Example: `  ssmstate get 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' _current-profile
  ssmstate get /var/lib/tailscale/tailscaled.state _machinekey > machinekey`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, key := args[0], args[1]
			s, err := openStore(cmd, loc)
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := s.ReadState(runCtx(cmd), key)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(v)
			return err
		},
	}
}

// openStore opens the state loc names for get, put and ls. A malformed
// locator is a usage error. For SSM locators the AWS settings come from
// aws-sdk-go-v2's default chain with the persistent --profile, --region and
// --endpoint-url flags on top (see opsOptions); file and mem: locators need
// no AWS configuration.
func openStore(cmd *cobra.Command, loc string) (*store.Store, error) {
	l, err := locator.Parse(loc)
	if err != nil {
		return nil, usageError{err}
	}
	var opts []store.Option
	if l.Kind == locator.KindSSM {
		o, err := opsOptions(cmd)
		if err != nil {
			return nil, err
		}
		opts = append(opts, store.WithLogger(o.Logger))
		if o.AWSConfig != nil {
			opts = append(opts, store.WithAWSConfig(*o.AWSConfig))
		}
	}
	s, err := store.Open(runCtx(cmd), loc, opts...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", loc, err)
	}
	return s, nil
}
