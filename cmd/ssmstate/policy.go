package main

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/locator"
	"github.com/ssmstate/ssmstate/policy"
)

func newPolicyCmd() *cobra.Command {
	var (
		roleARN, format   string
		offline, noDoctor bool
	)
	cmd := &cobra.Command{
		Use:   "policy LOCATOR",
		Short: "Print the least-privilege IAM policy for a node, and the key-policy statements for its KMS key",
		Long: `Print the IAM identity policy a node needs for LOCATOR and nothing more:

  StateParameters        ssm:GetParameter(s), PutParameter, DeleteParameter(s)
                         on the parameter, its parts (NAME.part-*) and NAME.moving
  ListStateParts         ssm:DescribeParameters on * (no resource-level
                         permissions exist for it): part cleanup and doctor
  DescribeStateKey       kms:DescribeKey (the check at Open) and
                         kms:GetKeyRotationStatus (doctor; leave out with
                         --no-doctor) on the key
  UseStateKeyThroughSSM  kms:Decrypt, kms:Encrypt (and kms:GenerateDataKey
                         with tier=advanced) on the key, only through SSM
                         (kms:ViaService) and only for this parameter's
                         encryption context (kms:EncryptionContext:PARAMETER_ARN)

followed by the statements the key's owner adds to the key policy for the
role given by --role-arn (needed when the key policy does not delegate to
IAM). A key named by an alias is resolved to its ARN with kms:DescribeKey;
--offline prints the alias-based form instead. docs/policy.md explains each
statement.`,
		Example: `  ssmstate policy --role-arn arn:aws:iam::123456789012:role/ts-node1 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'
  ssmstate policy --format terraform --offline 'arn:aws:ssm:us-east-1:123456789012:parameter/ts/node1?kmsKey=alias/ts-prod'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "terraform" {
				return usageError{fmt.Errorf("--format %q: want json or terraform", format)}
			}
			loc, err := locator.Parse(args[0])
			if err != nil {
				return usageError{err}
			}
			if loc.Kind != locator.KindSSM {
				return usageError{fmt.Errorf("locator %s is not an SSM parameter ARN: only SSM state needs an IAM policy", args[0])}
			}
			o := policy.Options{RoleARN: roleARN, NoDoctor: noDoctor}
			if policy.NeedsResolving(loc) && !offline {
				ops, err := opsOptions(cmd)
				if err != nil {
					return err
				}
				cfg := ops.AWSConfig.Copy()
				cfg.Region = loc.Region
				if o.KeyARN, err = policy.ResolveKey(runCtx(cmd), kms.NewFromConfig(cfg), loc); err != nil {
					return err
				}
			}
			p, err := policy.Generate(loc, o)
			if err != nil {
				return usageError{err}
			}
			if format == "terraform" {
				return p.WriteTerraform(cmd.OutOrStdout())
			}
			return p.WriteJSON(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&roleARN, "role-arn", "", "the node's IAM role, named in the key-policy statements (default: a placeholder)")
	f.StringVar(&format, "format", "json", "json, or terraform (aws_iam_policy_document data sources)")
	f.BoolVar(&offline, "offline", false, "do not resolve an alias with kms:DescribeKey; print the alias-based form")
	f.BoolVar(&noDoctor, "no-doctor", false, "leave out what only `ssmstate doctor` uses")
	return cmd
}
