package config

import "github.com/platform/private-run-api/diag"

// Error is the bootstrap program's invalid-config error, until it moves to *diag.ConfigError as
// this program has.
//
// Deprecated: use *diag.ConfigError.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string { return (&diag.ConfigError{Diagnostics: e.Problems}).Error() }

// Problem is one problem with a stack config.
//
// Deprecated: use diag.Diagnostic.
type Problem = diag.Diagnostic

type problems = diag.List
