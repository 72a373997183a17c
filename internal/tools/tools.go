//go:build tools

// Package tools pins modules that the project's packages import, so that
// go.mod and go.sum hold them before the code that uses them lands.
package tools

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/aws/arn"
	_ "github.com/aws/aws-sdk-go-v2/aws/retry"
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	_ "github.com/aws/aws-sdk-go-v2/service/kms"
	_ "github.com/aws/aws-sdk-go-v2/service/ssm"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/aws/smithy-go"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/bbolt"
	_ "tailscale.com/ipn"
	_ "tailscale.com/ipn/store/awsstore"
	_ "tailscale.com/tsnet"
	_ "tailscale.com/tstest/integration"
	_ "tailscale.com/tstest/integration/testcontrol"
)
