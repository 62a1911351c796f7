// Package live compares what a stack declares with what Google holds, read with Google's own
// client libraries (google.golang.org/api: Resource Manager, Cloud Run, IAM, Cloud Storage,
// Secret Manager, Cloud Logging). It has two reports, both built on the stack's plan
// (*plan.Stack), the same value the program renders into resources:
//
//   - Check (`access -live`): the live IAM policy of everything the plan declares (the service,
//     each caller account, the runtime account, the authz bucket, and the runtime account's
//     accessor binding on each secret) against the plan, difference by difference: members and
//     roles nobody declared, declared ones missing, deleted principals, conditions that differ.
//     Then who can reach the API from outside the program: the holders, at project, folder and
//     organization level, of the permissions that let a principal call the service, pass the
//     authz guard, act as a caller account, or grant any of those. Predefined roles are judged
//     by the checked-in table of package gcp/roles (the one the policy pack uses); custom roles
//     are read live. And, when the authz bucket's live policy equals the declared one, the
//     bucket's creation time to pin in the guard.
//   - Usage (`access -usage`): who minted tokens as each caller account over a window, from the
//     Data Access audit logs of the IAM API, and which declared impersonators did not use their
//     grant, with the config change that would drop those grants.
//
// Nothing here writes to Google. What cannot be read is said, with the permission that would
// read it: a policy that answered 403 is "cannot read", never "nobody".
package live
