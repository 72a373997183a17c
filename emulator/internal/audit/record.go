package audit

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// cloudTrailRecord is the JSON of one CloudTrail management event, the
// subset of fields the endpoint can fill (CloudTrail User Guide, "CloudTrail
// record contents"). Values and plaintext never appear: requestParameters
// holds names, key ids and encryption contexts only.
type cloudTrailRecord struct {
	EventVersion       string         `json:"eventVersion"`
	UserIdentity       userIdentity   `json:"userIdentity"`
	EventTime          string         `json:"eventTime"`
	EventSource        string         `json:"eventSource"`
	EventName          string         `json:"eventName"`
	AWSRegion          string         `json:"awsRegion"`
	SourceIPAddress    string         `json:"sourceIPAddress"`
	UserAgent          string         `json:"userAgent"`
	ErrorCode          string         `json:"errorCode,omitempty"`
	ErrorMessage       string         `json:"errorMessage,omitempty"`
	RequestParameters  map[string]any `json:"requestParameters"`
	ResponseElements   any            `json:"responseElements"`
	RequestID          string         `json:"requestID"`
	EventID            string         `json:"eventID"`
	ReadOnly           bool           `json:"readOnly"`
	Resources          []ctResource   `json:"resources,omitempty"`
	EventType          string         `json:"eventType"`
	ManagementEvent    bool           `json:"managementEvent"`
	RecipientAccountID string         `json:"recipientAccountId"`
	EventCategory      string         `json:"eventCategory"`
}

type userIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// InvokedBy names the service that made the call on the caller's
	// behalf, e.g. "ssm.amazonaws.com" for the KMS calls Parameter Store
	// makes for a SecureString.
	InvokedBy string `json:"invokedBy,omitempty"`
}

type ctResource struct {
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
	ARN       string `json:"ARN"`
}

// cloudTrailJSON renders e as a CloudTrail record.
func (l *Log) cloudTrailJSON(e entry) string {
	ev := e.ev
	account := accountOf(ev.PrincipalARN)
	if account == "" {
		account = l.account
	}
	rec := cloudTrailRecord{
		// The version of the record format in AWS's current examples (KMS
		// Developer Guide, "Decrypt" CloudTrail examples).
		EventVersion: "1.11",
		UserIdentity: userIdentity{
			Type:        identityType(ev.PrincipalARN),
			ARN:         ev.PrincipalARN,
			AccountID:   account,
			AccessKeyID: ev.AccessKeyID,
			UserName:    ev.Username,
		},
		EventTime:          ev.Time.UTC().Format(time.RFC3339),
		EventSource:        ev.EventSource,
		EventName:          ev.EventName,
		AWSRegion:          ev.Region,
		SourceIPAddress:    ev.SourceIP,
		UserAgent:          ev.UserAgent,
		ErrorCode:          ev.ErrorCode,
		ErrorMessage:       ev.ErrorMessage,
		RequestParameters:  requestParameters(ev),
		RequestID:          ev.RequestID,
		EventID:            e.id,
		ReadOnly:           readOnly(ev.EventSource, ev.EventName),
		EventType:          "AwsApiCall",
		ManagementEvent:    true,
		RecipientAccountID: l.account,
		EventCategory:      "Management",
	}
	if ev.ViaService != "" {
		svc := serviceHost(ev.ViaService)
		rec.UserIdentity.InvokedBy = svc
		rec.SourceIPAddress, rec.UserAgent = svc, svc
	}
	for _, r := range ev.Resources {
		rec.Resources = append(rec.Resources, ctResource{AccountID: accountOf(r), Type: resourceType(r), ARN: r})
	}
	b, _ := json.Marshal(rec)
	return string(b)
}

// requestParameters says what the call addressed, never what it carried.
func requestParameters(ev awsapi.Event) map[string]any {
	p := map[string]any{}
	switch ev.EventSource {
	case "kms.amazonaws.com":
		if ev.KeyARN != "" {
			p["keyId"] = ev.KeyARN
		}
		if len(ev.EncryptionContext) > 0 {
			p["encryptionContext"] = ev.EncryptionContext
		}
		switch ev.EventName {
		case "Encrypt", "Decrypt", "ReEncrypt":
			p["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
		}
	case "ssm.amazonaws.com":
		var names []string
		for _, r := range ev.Resources {
			if n := parameterName(r); n != "" {
				names = append(names, n)
			}
		}
		switch {
		case len(names) == 1:
			p["name"] = names[0]
		case len(names) > 1:
			p["names"] = names
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// readOnly follows CloudTrail: reads and KMS cryptographic operations are
// read-only events; changes are not.
func readOnly(source, name string) bool {
	for _, p := range []string{"Get", "Describe", "List", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	if source == "kms.amazonaws.com" {
		switch {
		case name == "Encrypt", name == "Decrypt", name == "ReEncrypt",
			strings.HasPrefix(name, "GenerateDataKey"), name == "GenerateRandom":
			return true
		}
	}
	return false
}

func identityType(principalARN string) string {
	switch {
	case principalARN == "":
		return "Unknown"
	case strings.HasSuffix(principalARN, ":root"):
		return "Root"
	case strings.Contains(principalARN, ":role/"), strings.Contains(principalARN, ":assumed-role/"):
		return "AssumedRole"
	default:
		return "IAMUser"
	}
}

func resourceType(a string) string {
	switch {
	case strings.HasPrefix(a, "arn:") && strings.Contains(a, ":kms:") && strings.Contains(a, ":alias/"):
		return "AWS::KMS::Alias"
	case strings.HasPrefix(a, "arn:") && strings.Contains(a, ":kms:"):
		return "AWS::KMS::Key"
	case strings.HasPrefix(a, "arn:") && strings.Contains(a, ":ssm:"):
		return "AWS::SSM::Parameter"
	}
	return ""
}

// parameterName returns "/ts/node1" for arn:aws:ssm:R:A:parameter/ts/node1
// and "name" for arn:...:parameter/name, as Parameter Store names it.
func parameterName(a string) string {
	parts := strings.SplitN(a, ":", 6)
	if len(parts) != 6 || parts[2] != "ssm" {
		return ""
	}
	rest, ok := strings.CutPrefix(parts[5], "parameter")
	if !ok {
		return ""
	}
	if strings.Count(rest, "/") > 1 {
		return rest // hierarchical: keeps its leading slash
	}
	return strings.TrimPrefix(rest, "/")
}

func accountOf(a string) string {
	parts := strings.SplitN(a, ":", 6)
	if len(parts) == 6 {
		return parts[4]
	}
	return ""
}

// serviceHost turns "ssm.us-east-1.amazonaws.com" into "ssm.amazonaws.com",
// the form CloudTrail shows in invokedBy, sourceIPAddress and userAgent.
func serviceHost(via string) string {
	if i := strings.IndexByte(via, '.'); i > 0 {
		return via[:i] + ".amazonaws.com"
	}
	return via
}
