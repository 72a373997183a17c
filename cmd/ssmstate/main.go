// Command ssmstate keeps a node's secret state (such as a Tailscale node's
// keys) in AWS SSM Parameter Store, encrypted under a customer KMS key, and
// runs a local AWS endpoint to try and test it without an AWS account.
package main

import (
	"errors"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes, as documented in the README.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ssmstate",
		Short: "Keep a node's secret state in AWS SSM Parameter Store, encrypted with your KMS key",
		Long: `ssmstate keeps a node's secret state (for example a Tailscale node's keys) in
AWS SSM Parameter Store as SecureString parameters encrypted under a customer
KMS key, named by a locator such as

  arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod

It also runs a local AWS endpoint (SSM, KMS, STS) for trying it out and for
tests, with no AWS account: see "ssmstate demo" and "ssmstate emulator".`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newEmulatorCmd(),
		newDemoCmd(),
		newRmCmd(),
		newShowCmd(),
		newExportCmd(),
		newImportCmd(),
		newMigrateCmd(),
		newRotateCmd(),
		newReplicateCmd(),
		newBenchCmd(),
		newDoctorCmd(),
		newPolicyCmd(),
		newAuditCmd(),
		newGetCmd(),
		newPutCmd(),
		newLsCmd(),
	)
	addAWSFlags(root)
	return root
}

// usageError marks an error as a mistake in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	root := newRootCmd()
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	err := root.Execute()
	if err == nil {
		os.Exit(exitOK)
	}
	printError(os.Stderr, err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		os.Exit(exitUsage)
	}
	os.Exit(exitFailed)
}

// isCobraUsageError recognises the errors cobra returns for unknown commands
// and wrong argument counts, which it does not type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "requires exactly"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
