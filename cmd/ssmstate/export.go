package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newExportCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export LOCATOR [FILE|-]",
		Short: "Write a state in Tailscale's tailscaled.state JSON format (contains secrets)",
		Long: `Write the whole state LOCATOR names to FILE (created 0600, replaced
atomically) or, with - or no FILE, to stdout, in Tailscale's tailscaled.state
format: a JSON object of key to base64 value. The output holds the node's
secrets: keep it where the state itself may live.`,
		Example: `  ssmstate export 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' backup.state
  ssmstate export 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' - | jq keys`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, file := args[0], "-"
			if len(args) == 2 {
				file = args[1]
			}
			if err := parseLocators(loc); err != nil {
				return err
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			if file == "-" {
				_, err := ops.Export(runCtx(cmd), loc, cmd.OutOrStdout(), o)
				return err
			}
			var buf bytes.Buffer
			n, err := ops.Export(runCtx(cmd), loc, &buf, o)
			if err != nil {
				return err
			}
			if err := writeFileAtomic(file, buf.Bytes()); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"locator": loc, "file": file, "keys": n, "bytes": buf.Len()})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "exported %d keys to %s\n", n, file)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the outcome as JSON (when writing to a FILE)")
	return cmd
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file and a rename, so that path holds the old content or the new.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
