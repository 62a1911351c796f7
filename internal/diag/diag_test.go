package diag

import (
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	for _, tc := range []struct {
		got  Path
		want string
	}{
		{NewPath("callers").Index(2).Child("name"), "callers[2].name"},
		{NewPath("service").Child("env").Child("PORT"), "service.env.PORT"},
		{NewPath("gcp:project"), "gcp:project"},
		{Path{}.Child("callers"), "callers"},
		{NewPath("callers").Index(0).Child("impersonators").Index(3).Child("expires"), "callers[0].impersonators[3].expires"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("path = %q, want %q", tc.got, tc.want)
		}
	}
}

func TestListAndError(t *testing.T) {
	var l List
	l.Add(Invalid, NewPath("callers").Index(2).Child("name"), "Batch_Job", "must be lower case", `rename it, e.g. "batch-job"`)
	l.Warn(Invalid, NewPath("impersonators").Index(1), "user:a@b.c", "expired", "remove it")
	l.Add(Required, NewPath("service").Child("image"), "", "is missing", "set it")
	if len(l.Errors()) != 2 || len(l.Warnings()) != 1 || l.Warnings()[0].Path != "impersonators[1]" {
		t.Fatalf("errors %v, warnings %v", l.Errors(), l.Warnings())
	}
	err := &ConfigError{Diagnostics: l.Errors()}
	want := "invalid stack config (2 problems); nothing was deployed:\n" +
		`  - callers[2].name "Batch_Job": must be lower case; rename it, e.g. "batch-job"` + "\n" +
		"  - service.image: is missing; set it"
	if err.Error() != want {
		t.Errorf("error =\n%s\nwant\n%s", err, want)
	}
	one := &ConfigError{Diagnostics: l.Errors()[:1]}
	if !strings.HasPrefix(one.Error(), "invalid stack config (1 problem);") {
		t.Errorf("one problem: %s", one)
	}
}
