package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newLsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls LOCATOR",
		Short: "List the keys of a state and their sizes (never values)",
		Long: `List the keys in the state LOCATOR names, sorted, each with the size of its
value in bytes. Values are never printed.`,
		Example: `  ssmstate ls 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate ls --json /var/lib/tailscale/tailscaled.state`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(cmd, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.List(runCtx(cmd))
			if err != nil {
				return err
			}
			if asJSON {
				type entry struct {
					Key  string `json:"key"`
					Size int    `json:"size"`
				}
				out := make([]entry, len(keys))
				for i, k := range keys {
					out[i] = entry{k.Key, k.Size}
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			for _, k := range keys {
				fmt.Fprintf(tw, "%d\t  %s\n", k.Size, k.Key)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print [{\"key\":…,\"size\":…}] as JSON")
	return cmd
}
