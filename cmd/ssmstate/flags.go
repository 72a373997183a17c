package main

// Shared by the commands that talk to AWS: the persistent AWS flags, the
// ops.Options they build, locator arguments, --json output, the progress
// display and how errors are printed.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/ops"
	"github.com/ssmstate/ssmstate/store"
	_ "github.com/ssmstate/ssmstate/store/ssmparam" // SSM locators
	"github.com/ssmstate/ssmstate/storeerr"
)

// Persistent flag names.
const (
	flagProfile     = "profile"
	flagRegion      = "region"
	flagEndpointURL = "endpoint-url"
)

// addAWSFlags adds --profile, --region and --endpoint-url to root and every
// command under it.
func addAWSFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.String(flagProfile, "", "AWS shared-config profile (default: $AWS_PROFILE, else the default profile)")
	f.String(flagRegion, "", "AWS Region for calls not tied to a locator (default: $AWS_REGION); a locator's ARN names its own Region")
	f.String(flagEndpointURL, "", "send every AWS call to this URL, e.g. the local endpoint http://127.0.0.1:4566 (default: $AWS_ENDPOINT_URL)")
}

// opsOptions loads aws-sdk-go-v2's default configuration (environment,
// shared config and credentials files, credential chain) with the
// persistent flags on top, for the workflows in package ops.
func opsOptions(cmd *cobra.Command) (ops.Options, error) {
	var (
		lopts []func(*config.LoadOptions) error
		o     ops.Options
	)
	flags := cmd.Flags()
	profile, _ := flags.GetString(flagProfile)
	region, _ := flags.GetString(flagRegion)
	endpoint, _ := flags.GetString(flagEndpointURL)
	if profile != "" {
		lopts = append(lopts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		lopts = append(lopts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(cmd.Context(), lopts...)
	if err != nil {
		return o, fmt.Errorf("load the AWS configuration (profile %q): %w", profile, err)
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	// The SDK's own logger prints connection-reuse notes to stderr, which
	// would break the one-cause-line, one-fix-line error output.
	cfg.Logger = logging.Nop{}
	o.AWSConfig = &cfg
	o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if isTerminal(cmd.OutOrStdout()) {
		o.Progress = progressPrinter(cmd.ErrOrStderr())
	}
	return o, nil
}

// parseLocators checks locator arguments before any work, so that a
// malformed one is a usage error (exit 2).
func parseLocators(locs ...string) error {
	for _, l := range locs {
		if _, err := locator.Parse(l); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter draws one updating line on w (a terminal) per step.
func progressPrinter(w io.Writer) func(ops.Progress) {
	last := ""
	return func(p ops.Progress) {
		if p.Step != last && last != "" {
			fmt.Fprintln(w)
		}
		last = p.Step
		fmt.Fprintf(w, "\r%s: %d/%d", p.Step, p.Done, p.Total)
		if p.Done >= p.Total {
			fmt.Fprintln(w)
			last = ""
		}
	}
}

// printError prints err as one line of cause and, when known, one line of
// fix.
func printError(w io.Writer, err error) {
	cause, fix := explain(err)
	fmt.Fprintln(w, "ssmstate: "+oneLine(cause))
	if fix != "" {
		fmt.Fprintln(w, "fix: "+oneLine(fix))
	}
}

func explain(err error) (cause, fix string) {
	var (
		se *storeerr.Error
		oe *ops.Error
		le *locator.Error
		ue usageError
	)
	switch {
	case errors.As(err, &se):
		cause = "cannot " + string(se.Op)
		if se.Parameter != "" {
			cause += " SSM parameter " + se.Parameter
		}
		cause += ": " + se.Cause
		var ae smithy.APIError
		if errors.As(se.Err, &ae) {
			cause += " (AWS " + ae.ErrorCode() + ")"
		}
		return cause, se.Fix
	case errors.As(err, &oe):
		return oe.Cause, oe.Fix
	case errors.As(err, &le):
		return fmt.Sprintf("locator %q: %s", le.Locator, le.Problem), "give " + le.Want
	case errors.Is(err, store.ErrNotExist):
		return err.Error(), "list the keys that exist with: ssmstate ls LOCATOR"
	case errors.As(err, &ue) || isCobraUsageError(err):
		return err.Error(), "see ssmstate --help, or ssmstate COMMAND --help for a command's arguments and examples"
	}
	return err.Error(), ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// runCtx is the command's context (cobra's, or Background).
func runCtx(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
