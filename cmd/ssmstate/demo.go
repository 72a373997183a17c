package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/ssmstate/ssmstate/emulator"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "A short tour on an in-process local AWS endpoint: no AWS account, no set-up",
		Long: `Start the local AWS endpoint in this process, create a customer KMS key and
an alias for it, store a SecureString parameter under that key, and show that
Parameter Store holds ciphertext: reading without decryption gives ciphertext,
reading with decryption gives the value. Nothing leaves this process.`,
		Example: `  go run ./cmd/ssmstate demo`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return runDemo(ctx, cmd.OutOrStdout())
		},
	}
}

// demoValue is a made-up state, safe to print.
const demoValue = `{"_machinekey":"bWFjaGluZWtleTpkZW1v"}`

func runDemo(ctx context.Context, out io.Writer) error {
	srv, err := emulator.Start()
	if err != nil {
		return fmt.Errorf("start the in-process local AWS endpoint: %w", err)
	}
	defer srv.Close()
	const region = emulator.DefaultRegion
	cfg := srv.AWSConfig(region)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("1. Started a local AWS endpoint (SSM Parameter Store, KMS, STS) at %s.", srv.URL)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("ask the endpoint who we are (sts:GetCallerIdentity): %w", err)
	}
	say("   Calling as %s in %s.", aws.ToString(id.Arn), region)

	kc := kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("ssmstate demo node key")})
	if err != nil {
		return fmt.Errorf("create the demo KMS key: %w", err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	const alias = "alias/demo-node"
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		return fmt.Errorf("create %s for %s: %w", alias, keyARN, err)
	}
	say("2. Created a customer KMS key %s\n   and the alias %s for it.", keyARN, alias)

	sc := ssm.NewFromConfig(cfg)
	const name = "/demo/node1"
	if _, err := sc.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Type: ssmtypes.ParameterTypeSecureString, KeyId: aws.String(alias),
		Value: aws.String(demoValue), Tier: ssmtypes.ParameterTierIntelligentTiering, Overwrite: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("put the SecureString %s under %s: %w", name, alias, err)
	}
	say("3. Stored %s as a SecureString encrypted under %s.", name, alias)

	raw, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return fmt.Errorf("read %s without decryption: %w", name, err)
	}
	ct := aws.ToString(raw.Parameter.Value)
	if ct == demoValue {
		return fmt.Errorf("the endpoint returned %s in plaintext without decryption: it must return ciphertext", name)
	}
	say("4. Read without decryption, Parameter Store returns only ciphertext:\n   %s", abbreviate(ct, 72))

	dec, err := sc.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return fmt.Errorf("read %s with decryption: %w", name, err)
	}
	if got := aws.ToString(dec.Parameter.Value); got != demoValue {
		return fmt.Errorf("decrypting %s gave a different value than was stored", name)
	}
	say("5. Read with decryption (needs kms:Decrypt on the key), it returns the value:\n   %s", aws.ToString(dec.Parameter.Value))

	desc, err := sc.DescribeParameters(ctx, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Values: []string{name}}},
	})
	if err != nil {
		return fmt.Errorf("describe %s: %w", name, err)
	}
	for _, p := range desc.Parameters {
		say("6. DescribeParameters: %s, type %s, tier %s, version %d, key %s.", aws.ToString(p.Name), p.Type, p.Tier, p.Version, aws.ToString(p.KeyId))
	}
	say("\nLocator for this state: arn:aws:ssm:%s:%s:parameter%s?kmsKey=%s", region, srv.Account(), name, alias)
	say("Next: run \"ssmstate emulator\" and point the AWS CLI or SDKs at it with the printed exports.")
	return nil
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d characters)", len(s))
}
