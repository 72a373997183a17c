package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/doctor"
	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/ops"
)

// doctorFailed is the error of a doctor run with a failing check: the report
// already said why, so main prints a cause and a fix line and exits 1.
func doctorFailed(n int) error {
	return &ops.Error{
		Cause: fmt.Sprintf("doctor: %d check(s) failed", n),
		Fix:   "do what the fix under each FAIL line says, then run ssmstate doctor again",
	}
}

func newDoctorCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor LOCATOR",
		Short: "Check that a locator will work: credentials, KMS key, rights, parameter and state, leaving the state untouched",
		Long: `Check everything the store needs for LOCATOR, leaving the state untouched, and
print one line per check — PASS, WARN or FAIL with the reason — followed by the
fix for every WARN and FAIL, and a summary:

  credentials            who the AWS credentials are (STS GetCallerIdentity)
  locator                the locator parses
  kms-key, kms-key-spec  the KMS key exists in the parameter's Region, is
                         Enabled, SYMMETRIC_DEFAULT and ENCRYPT_DECRYPT
  kms-key-manager        WARN on the AWS managed key aws/ssm: any principal
                         with ssm:GetParameter can read the state
  kms-key-multi-region   single- or multi-Region key
  kms-key-rotation       WARN when automatic rotation is off
  ssm-read               ssm:GetParameter and kms:Decrypt through SSM
  parameter              present or absent, type, version, tier, parts
  parameter-key          which key encrypts it now, and whether that is the
                         locator's key
  state                  the state decodes (the store's own Open)
  ssm-write              ssm:PutParameter on the parameter, proven by a put
                         SSM refuses before it changes anything
  ssm-write-parts, ssm-delete-parts, kms-encrypt, kms-generate-data-key,
  kms-decrypt            a round trip through SSM on the probe part
                         NAME.part-0-0 (a name the store never writes):
                         put as SecureString under the key, read back
                         decrypted, deleted

docs/doctor.md describes each check, how the probes leave the state unchanged,
and the --json format.

Exit status: 0 when nothing failed (warnings allowed), 1 when a check failed,
2 on a usage error (including a malformed locator).`,
		Example: `  ssmstate doctor 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate doctor --json 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod' | jq '.checks[] | select(.status == "FAIL")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc := args[0]
			var opts doctor.Options
			if _, err := locator.Parse(loc); err == nil {
				o, err := opsOptions(cmd)
				if err != nil {
					return err
				}
				opts.AWSConfig = o.AWSConfig
			}
			rep := doctor.Run(runCtx(cmd), loc, opts)
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				err = rep.WriteJSON(out)
			} else {
				err = rep.WriteText(out)
			}
			if err != nil {
				return err
			}
			if _, perr := locator.Parse(loc); perr != nil {
				return usageError{perr}
			}
			if !rep.Summary.OK {
				return doctorFailed(rep.Summary.Fail)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (docs/doctor.md)")
	return cmd
}
