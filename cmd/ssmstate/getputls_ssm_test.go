package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmstate/ssmstate/emulator"
)

// TestPutGetLsSSM runs put, get and ls in process against the local
// endpoint, named by --endpoint-url, with a customer key.
func TestPutGetLsSSM(t *testing.T) {
	srv := emulator.NewTestServer(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           emulator.DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       emulator.DummySecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  emulator.DefaultRegion,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_SSM":        "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	cfg := srv.AWSConfig(emulator.DefaultRegion)
	kc := kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ts-cli"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	loc := "arn:aws:ssm:us-east-1:" + emulator.DefaultAccount + ":parameter/ts/cli-node?kmsKey=ts-cli"
	ep := "--endpoint-url=" + srv.URL
	mustRun(t, nil, "put", ep, loc, "_machinekey", "privkey:secret-value")
	mustRun(t, strings.NewReader("profile-json"), "put", ep, loc, "_profiles", "-")
	if got := mustRun(t, nil, "get", ep, loc, "_machinekey"); got != "privkey:secret-value" {
		t.Errorf("get = %q", got)
	}
	ls := mustRun(t, nil, "ls", ep, loc)
	if ls != "  20  _machinekey\n  12  _profiles\n" {
		t.Errorf("ls = %q", ls)
	}

	// The parameter is a SecureString under the customer key.
	p, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/ts/cli-node")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Parameter.Type != "SecureString" || strings.Contains(aws.ToString(p.Parameter.Value), "secret-value") {
		t.Errorf("parameter type %s, undecrypted value holds the secret: %v", p.Parameter.Type, strings.Contains(aws.ToString(p.Parameter.Value), "secret-value"))
	}
}
