package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/ops"
)

func newShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show LOCATOR",
		Short: "Describe a state: format, parameters, tier, versions, last change, KMS key and rotation (never values)",
		Long: `Describe the state LOCATOR names without printing any value: its format
(single parameter in Tailscale's format, or manifest and parts), the number of
keys and bytes, every SSM parameter holding it (tier, version, versions kept,
the key it is encrypted under, when and by whom it last changed), and the KMS
key the locator names: ARN, aliases, manager, state, multi-Region role and
automatic rotation status. Warnings name what to act on, e.g. a parameter
still under another key.

For a file or mem: locator only the format, keys and sizes are shown.`,
		Example: `  ssmstate show 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate show /var/lib/tailscale/tailscaled.state
  ssmstate show --json 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' | jq .key.rotation`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseLocators(args[0]); err != nil {
				return err
			}
			o, err := opsOptions(cmd)
			if err != nil {
				return err
			}
			info, err := ops.Show(runCtx(cmd), args[0], o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			return writeShow(cmd.OutOrStdout(), info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the description as JSON")
	return cmd
}

const timeFormat = "2006-01-02 15:04:05 UTC"

func writeShow(w io.Writer, info *ops.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("locator", info.Locator)
	row("backend", info.Backend)
	format := info.Format
	if info.Format == "multi-part" {
		format += fmt.Sprintf(" (generation %d, manifest and %d parts)", info.Generation, len(info.Parameters)-1)
	}
	row("format", format)
	row("state", fmt.Sprintf("%d keys, %d bytes of values, %d bytes encoded", info.Keys, info.Bytes, info.EncodedSize))
	if k := info.Key; k != nil {
		aliases := "no alias"
		if len(k.Aliases) > 0 {
			aliases = strings.Join(k.Aliases, ", ")
		}
		row("key", fmt.Sprintf("%s (%s)", k.ARN, aliases))
		row("", fmt.Sprintf("%s managed, %s", strings.ToLower(k.Manager), k.State))
		if k.MultiRegion {
			row("", fmt.Sprintf("multi-Region %s; other Regions: %s", strings.ToLower(k.MultiRegionRole), orNone(k.ReplicaRegions)))
		}
		row("rotation", rotationText(k.Rotation))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(info.Parameters) > 0 {
		fmt.Fprintln(w, "parameters:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tROLE\tTIER\tVERSION\tVERSIONS\tKEY\tLAST CHANGE\tBY")
		for _, p := range info.Parameters {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", p.Name, p.Role, p.Tier, p.Version, p.Versions, p.KeyID, p.LastModified.Format(timeFormat), p.LastModifier)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for i, r := range info.Replicas {
		if i == 0 {
			fmt.Fprintln(w, "copies in the key's other Regions:")
		}
		line := fmt.Sprintf("  %s: %s", r.Region, r.Status)
		switch r.Status {
		case ops.ReplicaInSync:
			line += fmt.Sprintf(" (%d keys) %s", r.Keys, r.Locator)
		case ops.ReplicaDiffers:
			line += " (" + r.Diff + ")"
		}
		fmt.Fprintln(w, line)
	}
	for i, warn := range info.Warnings {
		if i == 0 {
			fmt.Fprintln(w, "warnings:")
		}
		fmt.Fprintln(w, "  - "+warn)
	}
	return nil
}

func rotationText(r ops.Rotation) string {
	var s string
	switch {
	case r.Enabled == nil:
		s = "unknown"
	case !*r.Enabled:
		s = "off"
	default:
		s = "on"
		if r.PeriodDays > 0 {
			s += fmt.Sprintf(", every %d days", r.PeriodDays)
		}
		if r.NextRotation != nil {
			s += ", next " + r.NextRotation.Format("2006-01-02")
		}
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
