package doctor

import (
	"os"
	"path/filepath"
	"strings"
)

// Env is the part of the process environment the doctor reads. It is injected so that tests can
// point it at temporary directories; the command passes the real ones.
type Env struct {
	Getenv func(string) string
	// HomeDir is the home directory as Go's libraries guess it on Linux and macOS: $HOME, else
	// the user database.
	HomeDir func() string
	// GOOS decides where gcloud's file lives (%APPDATA% on Windows) and how fixes are spelled.
	GOOS string
	// Getwd resolves a relative CLOUDSDK_CONFIG; nil means os.Getwd.
	Getwd func() (string, error)
}

func (e Env) get(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

func (e Env) windows() bool { return e.GOOS == "windows" }

// abs makes path absolute against the working directory, as gcloud resolves a relative
// CLOUDSDK_CONFIG against the directory it runs in. It returns path unchanged when the working
// directory is unknown.
func (e Env) abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	getwd := e.Getwd
	if getwd == nil {
		getwd = os.Getwd
	}
	wd, err := getwd()
	if err != nil || !filepath.IsAbs(wd) {
		return path
	}
	return filepath.Join(wd, path)
}

const (
	envCredentials = "GOOGLE_APPLICATION_CREDENTIALS"
	envCloudSDK    = "CLOUDSDK_CONFIG"
	adcFileName    = "application_default_credentials.json"
)

// Source says how Go's libraries came to the credentials file.
type Source int

const (
	// SourceNone: no file; Go fails with "could not find default credentials".
	SourceNone Source = iota
	// SourceEnv: GOOGLE_APPLICATION_CREDENTIALS names the file. It wins over everything else,
	// and a missing file there is an error, not a fallback.
	SourceEnv
	// SourceGcloud: gcloud's well-known file, written by `gcloud auth application-default login`.
	SourceGcloud
	// SourceCloudSDK: only $CLOUDSDK_CONFIG holds a file. Go's libraries do not read it
	// (golang/oauth2#506); the doctor diagnoses it as it would be once exported, after saying so.
	SourceCloudSDK
)

// Credentials locates Application Default Credentials the way Go's Google libraries do
// (golang.org/x/oauth2/google.FindDefaultCredentials, cloud.google.com/go/auth/credentials
// .DetectDefault): GOOGLE_APPLICATION_CREDENTIALS, then gcloud's well-known file, then the
// metadata server, which a laptop does not have.
type Credentials struct {
	Source Source
	// Path is the file diagnosed; "" for SourceNone.
	Path string
	// EnvPath is GOOGLE_APPLICATION_CREDENTIALS as set ("" when unset).
	EnvPath string
	// GcloudPath is the well-known file Go reads: ~/.config/gcloud/... or %APPDATA%\gcloud\...
	GcloudPath   string
	GcloudExists bool
	// CloudSDKPath is where gcloud writes logins when CLOUDSDK_CONFIG is set ("" when unset),
	// made absolute: a fix that exports it must work from any directory.
	CloudSDKPath   string
	CloudSDKExists bool
	// CloudSDKRelative is CLOUDSDK_CONFIG as set when it is a relative path, "" otherwise.
	// gcloud resolves it against whatever directory it runs in, so each directory gets its own
	// login.
	CloudSDKRelative string
}

// Describe says which file wins and why, for the report's header.
func (c Credentials) Describe() string {
	switch c.Source {
	case SourceEnv:
		return shown(c.Path) + " (from " + envCredentials + ", which wins over gcloud's file)"
	case SourceGcloud:
		return shown(c.Path) + " (gcloud's application-default file; " + envCredentials + " is not set)"
	case SourceCloudSDK:
		return "none: Go does not look in " + envCloudSDK + "; diagnosing " + shown(c.Path) + " as if it were exported"
	default:
		return "none found (" + envCredentials + " is not set and " + shown(c.GcloudPath) + " does not exist)"
	}
}

// Locate finds the credentials file; exists reports whether a path is a readable regular file's
// name (it is injected so that the lookup itself stays free of I/O decisions in tests).
func Locate(env Env, exists func(string) bool) Credentials {
	c := Credentials{EnvPath: env.get(envCredentials)}
	if env.windows() {
		c.GcloudPath = filepath.Join(env.get("APPDATA"), "gcloud", adcFileName)
	} else {
		home := ""
		if env.HomeDir != nil {
			home = env.HomeDir()
		}
		c.GcloudPath = filepath.Join(home, ".config", "gcloud", adcFileName)
	}
	c.GcloudExists = exists(c.GcloudPath)
	if dir := env.get(envCloudSDK); dir != "" {
		if !filepath.IsAbs(dir) {
			c.CloudSDKRelative = dir
		}
		c.CloudSDKPath = filepath.Join(env.abs(dir), adcFileName)
		if filepath.Clean(c.CloudSDKPath) == filepath.Clean(c.GcloudPath) {
			// Pointing CLOUDSDK_CONFIG at the default directory changes nothing.
			c.CloudSDKPath = ""
		} else {
			c.CloudSDKExists = exists(c.CloudSDKPath)
		}
	}
	switch {
	case c.EnvPath != "":
		c.Source, c.Path = SourceEnv, c.EnvPath
	case c.GcloudExists:
		c.Source, c.Path = SourceGcloud, c.GcloudPath
	case c.CloudSDKExists:
		c.Source, c.Path = SourceCloudSDK, c.CloudSDKPath
	}
	return c
}

// Shell spellings of the environment fixes; PowerShell on Windows, POSIX shells elsewhere.

func unsetCredentialsCmd(env Env) string {
	if env.windows() {
		return "Remove-Item Env:" + envCredentials
	}
	return "unset " + envCredentials
}

func exportCredentialsCmd(env Env, path string) string {
	return exportCmd(env, envCredentials, path)
}

// exportCmd sets a variable to a value quoted for the shell, so that spaces or quotes in a path
// cannot split it or end the command early.
func exportCmd(env Env, name, value string) string {
	if env.windows() {
		return "$env:" + name + " = '" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	return "export " + name + "='" + strings.ReplaceAll(value, "'", `'\''`) + "'"
}
