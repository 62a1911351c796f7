package main

import (
	"context"
	"fmt"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/platform/private-run-api/policy/rules"
)

// packName and packVersion identify the pack in Pulumi Cloud; publishing refuses a version that
// was already published, so bump packVersion with every change to a policy.
const (
	packName    = "private-run-api-guardrails"
	packVersion = "0.2.0"
)

// newPack builds the pack from the policies in package rules. It needs nothing from the stack,
// so it ignores the context policyx passes.
func newPack(*pulumi.Context) (policyx.PolicyPack, error) {
	var policies []policyx.Policy
	for _, p := range rules.ResourcePolicies() {
		policies = append(policies, policyx.NewResourceValidationPolicy(p.Name, policyx.ResourceValidationPolicyArgs{
			Description:      p.Description,
			EnforcementLevel: p.Level,
			ConfigSchema:     p.Schema(),
			ValidateResource: validateResource(p),
		}))
	}
	for _, p := range rules.StackPolicies() {
		policies = append(policies, policyx.NewStackValidationPolicy(p.Name, policyx.StackValidationPolicyArgs{
			Description:      p.Description,
			EnforcementLevel: p.Level,
			ValidateStack:    validateStack(p),
		}))
	}
	// policyx ignores the pack-level level (each policy carries its own); mandatory states the
	// intent for any later SDK that honours it.
	return policyx.NewPolicyPack(packName, semver.MustParse(packVersion), policyx.EnforcementLevelMandatory, policies)
}

func validateResource(p rules.ResourcePolicy) func(context.Context, policyx.ResourceValidationArgs) error {
	return func(_ context.Context, args policyx.ResourceValidationArgs) (err error) {
		// A panic here would end the pack's process and fail the whole preview with a stack trace;
		// turn it into an error naming the policy and the resource instead.
		defer func() {
			if e := recover(); e != nil {
				err = fmt.Errorf("policy %s panicked on %s: %v", p.Name, args.Resource.URN, e)
			}
		}()
		r := rules.Resource{Type: args.Resource.Type, URN: args.Resource.URN, Name: args.Resource.Name, Properties: args.Resource.Properties}
		msgs, err := p.Check(r, args.Config)
		if err != nil {
			// A bad policy config fails the run: a misspelt property would otherwise leave the
			// default in force without a word.
			return fmt.Errorf("policy config of %s: %w", p.Name, err)
		}
		for _, m := range msgs {
			args.Manager.ReportViolation(rules.Report(m, p.Remediation), "")
		}
		return nil
	}
}

func validateStack(p rules.StackPolicy) func(context.Context, policyx.StackValidationArgs) error {
	return func(_ context.Context, args policyx.StackValidationArgs) (err error) {
		defer func() {
			if e := recover(); e != nil {
				err = fmt.Errorf("policy %s panicked: %v", p.Name, e)
			}
		}()
		rs := make([]rules.Resource, 0, len(args.Resources))
		for _, r := range args.Resources {
			rs = append(rs, rules.Resource{Type: r.Type, URN: r.URN, Name: r.Name, Properties: r.Properties})
		}
		for _, f := range p.Check(rs) {
			args.Manager.ReportViolation(rules.Report(f.Message, p.Remediation), f.URN)
		}
		return nil
	}
}
