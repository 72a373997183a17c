package storeerr

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// One constructor per Kind. Each writes the cause and the fix; the texts are
// what docs/errors.md catalogues.

func keyNotFound(s Subject, msg string, err error) *Error {
	if m := otherRgnRx.FindStringSubmatch(msg); m != nil {
		return keyOtherRegion(s, "", m[1], err)
	}
	if r := s.keyRegion(""); r != s.Region && s.Region != "" {
		return keyOtherRegion(s, "", r, err)
	}
	region, account := s.keyRegion(""), s.account()
	if strings.HasPrefix(msg, "Alias ") || (s.Alias() != "" && !strings.Contains(msg, ":key/")) {
		alias := s.Alias()
		if alias == "" {
			alias = "the alias"
		}
		e := s.newError(AliasNotFound, "", err)
		e.Cause = fmt.Sprintf("the KMS alias %s does not exist in account %s and Region %s", alias, account, region)
		e.Fix = fmt.Sprintf("create it for the key: `aws kms create-alias --alias-name %s --target-key-id <key id> --region %s`, or correct kmsKey= in the locator (`aws kms list-aliases --region %s` lists the aliases)", alias, region, region)
		return e
	}
	keyARN := keyArnRx.FindString(msg)
	e := s.newError(KeyNotFound, keyARN, err)
	ref := keyARN
	if ref == "" {
		ref = s.keyRef("")
	}
	e.Cause = fmt.Sprintf("the KMS key %s does not exist in account %s and Region %s (a key lives in one Region; a deleted key is gone for good)", ref, account, region)
	e.Fix = fmt.Sprintf("correct kmsKey= in the locator to a key of that account and Region (`aws kms list-keys --region %s` lists them), or create one: `aws kms create-key --region %s`", region, region)
	return e
}

func keyDisabled(s Subject, keyARN string, err error) *Error {
	e := s.newError(KeyDisabled, keyARN, err)
	e.Cause = fmt.Sprintf("the %s is disabled, so SSM can neither encrypt nor decrypt with it", s.keyName(keyARN))
	e.Fix = fmt.Sprintf("enable it: `aws kms enable-key --key-id %s --region %s`", s.keyRef(keyARN), s.keyRegion(keyARN))
	return e
}

func keyPendingDeletion(s Subject, keyARN string, when time.Time, err error) *Error {
	e := s.newError(KeyPendingDeletion, keyARN, err)
	e.DeletionDate = when
	ref, region := s.keyRef(keyARN), s.keyRegion(keyARN)
	date := fmt.Sprintf("(`aws kms describe-key --key-id %s --region %s` shows the date)", ref, region)
	if !when.IsZero() {
		date = "on " + fmtDate(when)
	}
	e.Cause = fmt.Sprintf("the %s is scheduled for deletion %s and cannot be used meanwhile; once it is deleted, everything encrypted under it, this state included, can never be decrypted again", s.keyName(keyARN), date)
	e.Fix = fmt.Sprintf("cancel the deletion, then enable the key (cancelling leaves it disabled): `aws kms cancel-key-deletion --key-id %s --region %s` and `aws kms enable-key --key-id %s --region %s`", ref, region, ref, region)
	return e
}

func keyUnavailable(s Subject, keyARN, state string, err error) *Error {
	e := s.newError(KeyUnavailable, keyARN, err)
	ref, region := s.keyRef(keyARN), s.keyRegion(keyARN)
	e.Cause = fmt.Sprintf("the %s is %s and cannot be used now", s.keyName(keyARN), strings.ToLower(state))
	switch strings.ToLower(state) {
	case "pending import", "pendingimport":
		e.Fix = fmt.Sprintf("import its key material (`aws kms get-parameters-for-import` then `aws kms import-key-material --key-id %s --region %s …`), or name another key in kmsKey=", ref, region)
	case "unavailable":
		e.Fix = fmt.Sprintf("its custom key store is disconnected: reconnect it with `aws kms connect-custom-key-store --custom-key-store-id <id> --region %s` (`aws kms describe-key --key-id %s --region %s` names the store)", region, ref, region)
	default:
		e.Fix = fmt.Sprintf("wait until `aws kms describe-key --key-id %s --region %s` shows KeyState Enabled, or name another key in kmsKey=", ref, region)
	}
	return e
}

// newKeyFix is the fix for a key that can never work for Parameter Store.
func newKeyFix(s Subject, region string) string {
	fix := fmt.Sprintf("create a symmetric encryption key: `aws kms create-key --key-spec SYMMETRIC_DEFAULT --key-usage ENCRYPT_DECRYPT --region %s`", region)
	if a := s.Alias(); a != "" {
		return fix + fmt.Sprintf(", then point the alias at it: `aws kms update-alias --alias-name %s --target-key-id <new key id> --region %s`", a, region)
	}
	return fix + ", and name it in kmsKey="
}

func keyNotSymmetric(s Subject, keyARN, spec string, err error) *Error {
	e := s.newError(KeyNotSymmetric, keyARN, err)
	what := "is not a symmetric encryption key"
	if spec != "" {
		what += " (key spec " + spec + ")"
	}
	e.Cause = fmt.Sprintf("the %s %s; Parameter Store encrypts SecureStrings only with symmetric encryption keys (SYMMETRIC_DEFAULT)", s.keyName(keyARN), what)
	e.Fix = newKeyFix(s, s.Region)
	return e
}

func keyWrongUsage(s Subject, keyARN, usage string, err error) *Error {
	e := s.newError(KeyWrongUsage, keyARN, err)
	e.Cause = fmt.Sprintf("the %s has key usage %s, not ENCRYPT_DECRYPT; Parameter Store needs a key that encrypts and decrypts", s.keyName(keyARN), usage)
	e.Fix = newKeyFix(s, s.Region)
	return e
}

func keyOtherRegion(s Subject, keyARN, keyRegion string, err error) *Error {
	e := s.newError(KeyOtherRegion, keyARN, err)
	ref := s.keyRef(keyARN)
	e.Cause = fmt.Sprintf("the %s is in Region %s but the parameter is in Region %s; Parameter Store uses only keys in the parameter's own Region", s.keyName(keyARN), keyRegion, s.Region)
	e.Fix = fmt.Sprintf("name a key in %s in kmsKey=: create one (`aws kms create-key --region %s`) or, for a multi-Region key (mrk-…), replicate it (`aws kms replicate-key --key-id %s --replica-region %s --region %s`) and name the replica", s.Region, s.Region, ref, s.Region, keyRegion)
	return e
}

func ciphertextInvalid(s Subject, err error) *Error {
	e := s.newError(CiphertextInvalid, "", err)
	e.Cause = "KMS refused the stored ciphertext: it was encrypted under another key or for another parameter ARN (the PARAMETER_ARN encryption context), or it was altered"
	e.Fix = fmt.Sprintf("if the value was copied from another parameter or account, write it again through ssmstate; otherwise look for an intact version with `aws ssm get-parameter-history --name %s --region %s`", parameterName(s.Parameter), s.Region)
	return e
}

// deniedReason turns the tail of AWS's access-denied message ("because no
// identity-based policy allows the … action") into a fix.
func accessDenied(s Subject, msg, operation string, err error) *Error {
	action, resource, principal := "", "", ""
	if m := deniedRx.FindStringSubmatch(msg); m != nil {
		action, resource = m[1], strings.TrimRight(m[2], ".,;")
	}
	if m := userRx.FindStringSubmatch(msg); m != nil {
		principal = m[1]
	}
	if action == "" {
		action = actionFor(operation)
	}
	if resource == "" {
		switch {
		case strings.HasPrefix(action, "kms:"):
			resource = s.keyRef("")
		default:
			resource = s.Parameter
		}
	}
	var keyARN string
	if strings.HasPrefix(action, "kms:") && keyArnRx.MatchString(resource) {
		keyARN = resource
	}
	e := s.newError(AccessDenied, keyARN, err)
	e.Action, e.Resource, e.Principal = action, resource, principal
	who := principal
	if who == "" {
		who = "the caller"
	}
	if action == "" {
		e.Cause = fmt.Sprintf("AWS denied %s access", who)
		e.Fix = "grant the caller the SSM and KMS actions ssmstate needs; `ssmstate doctor LOCATOR` names each missing one"
		return e
	}
	e.Cause = fmt.Sprintf("%s is not allowed to call %s on %s", who, action, resource)
	stmt := fmt.Sprintf(`{"Effect": "Allow", "Action": "%s", "Resource": "%s"}`, action, resource)
	switch {
	case strings.Contains(msg, "explicit deny"):
		kind := "a"
		if i := strings.Index(msg, "explicit deny in "); i >= 0 {
			kind = strings.TrimSuffix(strings.TrimSpace(msg[i+len("explicit deny in "):]), ".")
		}
		e.Cause += " (an explicit deny in " + kind + ")"
		e.Fix = fmt.Sprintf("remove or narrow the Deny of %s on %s in %s that applies to %s; a Deny wins over any Allow", action, resource, kind, who)
	case strings.Contains(msg, "no resource-based policy allows"):
		e.Cause += " (the key policy does not allow it)"
		e.Fix = fmt.Sprintf("allow %s for %s in the key policy of %s (`aws kms get-key-policy --key-id %s --policy-name default --region %s` shows it, `aws kms put-key-policy` replaces it), or keep the default statement that lets IAM policies of the account grant it", action, who, resource, resource, s.keyRegion(keyARN))
	case strings.Contains(msg, "no permissions boundary allows"):
		e.Cause += " (the permissions boundary does not allow it)"
		e.Fix = fmt.Sprintf("add %s on %s to the permissions boundary of %s", action, resource, who)
	case strings.Contains(msg, "no service control policy allows"):
		e.Cause += " (a service control policy does not allow it)"
		e.Fix = fmt.Sprintf("ask the AWS Organizations administrator to allow %s in the service control policies over this account", action)
	case strings.Contains(msg, "no session policy allows"):
		e.Cause += " (the session policy does not allow it)"
		e.Fix = fmt.Sprintf("allow %s on %s in the session policy passed when the role was assumed", action, resource)
	default:
		e.Fix = fmt.Sprintf("grant %s %s on %s with an IAM policy statement %s", who, action, resource, stmt)
		if strings.HasPrefix(action, "kms:") {
			e.Fix += "; the key policy must allow it too (the default key policy does, through its statement for the account)"
		}
	}
	return e
}

func throttled(s Subject, service string, err error) *Error {
	e := s.newError(Throttled, "", err)
	switch strings.ToUpper(service) {
	case "STS":
		e.Cause = "AWS throttled the STS requests (Rate exceeded) and the retries did not get through before the deadline"
		e.Fix = "retry later, and lower the rate of calls made with these credentials (every AWS call of the account and Region shares the quotas)"
	case "KMS":
		e.Cause = "AWS throttled the KMS requests (Rate exceeded) and the retries did not get through before the deadline"
		e.Fix = fmt.Sprintf("lower the request rate, or ask for a higher KMS request quota (`aws service-quotas list-service-quotas --service-code kms --region %s` lists them)", s.Region)
	default:
		svc := "SSM"
		if service != "" {
			svc = service
		}
		e.Cause = fmt.Sprintf("AWS throttled the %s requests (Rate exceeded) and the retries did not get through before the deadline", svc)
		e.Fix = fmt.Sprintf("lower the request rate: GetParameter, GetParameters and GetParametersByPath share 40 requests a second per account and Region among all clients, so spread out the start of many nodes or allow a longer timeout; or turn on higher throughput (charged): `aws ssm update-service-setting --setting-id arn:aws:ssm:%s:%s:servicesetting/ssm/parameter-store/high-throughput-enabled --setting-value true --region %s`", s.Region, s.account(), s.Region)
	}
	return e
}

func valueTooLarge(s Subject, msg string, err error) *Error {
	e := s.newError(ValueTooLarge, "", err)
	tier := "Standard tier holds 4,096 characters"
	if strings.HasPrefix(msg, "Advanced") {
		tier = "Advanced tier holds 8,192 characters"
	}
	e.Cause = fmt.Sprintf("the value is larger than the parameter's tier allows (the %s)", tier)
	e.Fix = "let ssmstate write the state, which splits a large state over several parameters that fit; to use 8 KB Advanced parameters (charged), add tier=advanced to the locator"
	return e
}

func typeMismatch(s Subject, err error) *Error {
	e := s.newError(TypeMismatch, "", err)
	e.Cause = "the parameter's type (String or SecureString) does not match the request, and SSM would not change it in place"
	e.Fix = fmt.Sprintf("check the type with `aws ssm describe-parameters --parameter-filters Key=Name,Values=%s --region %s`; ssmstate writes SecureString and moves a plain String state over on its next write, so name a parameter no other tool writes", parameterName(s.Parameter), s.Region)
	return e
}

func noCredentials(s Subject, err error) *Error {
	e := s.newError(NoCredentials, "", err)
	e.Cause = "no AWS credentials were found: the default chain looked in the environment (AWS_ACCESS_KEY_ID), the shared config and credentials files (AWS_PROFILE), SSO, web identity, and the ECS and EC2 instance roles"
	e.Fix = "give the process credentials: an instance or task role, AWS_PROFILE naming a profile in ~/.aws/config (run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; `aws sts get-caller-identity` shows whether they work"
	return e
}

func expiredCredentials(s Subject, err error) *Error {
	e := s.newError(ExpiredCredentials, "", err)
	e.Cause = "the AWS credentials have expired (their session token is no longer valid)"
	e.Fix = "get fresh credentials (`aws sso login`, or a new `aws sts assume-role`); a long-running node should use a role whose credentials the SDK refreshes by itself (EC2 instance profile, ECS task role, EKS IRSA or Pod Identity) rather than fixed temporary keys"
	return e
}

func invalidCredentials(s Subject, err error) *Error {
	e := s.newError(InvalidCredentials, "", err)
	e.Cause = "AWS does not accept the credentials: the access key id is unknown, or the secret or session token does not match it"
	e.Fix = "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or the profile's keys with `aws sts get-caller-identity`, and that the system clock is right; create a new access key if this one was deleted"
	return e
}

func noRegion(s Subject, err error) *Error {
	e := s.newError(NoRegion, "", err)
	e.Cause = "no AWS Region is set"
	e.Fix = "name the Region in the locator (arn:aws:ssm:<region>:<account>:parameter/<name>) or set AWS_REGION"
	return e
}

func unreachable(s Subject, err error) *Error {
	e := s.newError(EndpointUnreachable, "", err)
	e.Cause = "AWS could not be reached: the connection failed or no answer came"
	r := s.Region
	if r == "" {
		r = "<region>"
	}
	e.Fix = fmt.Sprintf("check the network path to ssm.%s.amazonaws.com and kms.%s.amazonaws.com (from a private subnet: VPC interface endpoints com.amazonaws.%s.ssm and com.amazonaws.%s.kms), any HTTPS_PROXY setting, and AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL_KMS if set", r, r, r, r)
	return e
}

func serviceFailure(s Subject, service string, err error) *Error {
	e := s.newError(ServiceFailure, "", err)
	if service == "" {
		service = "AWS"
	} else {
		service = "AWS " + service
	}
	e.Cause = service + " answered with an internal error and the retries did not get through"
	e.Fix = fmt.Sprintf("try again later; the AWS Health Dashboard shows incidents in %s", s.Region)
	return e
}

// parameterName is the SSM name in a parameter ARN ("/ts/node1"), or the
// argument when it is not an ARN.
func parameterName(p string) string {
	a, err := arn.Parse(p)
	if err != nil {
		return p
	}
	name, ok := strings.CutPrefix(a.Resource, "parameter")
	if !ok {
		return p
	}
	return name
}
