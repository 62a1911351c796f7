package plan

import (
	"fmt"
	"time"

	"github.com/platform/private-run-api/internal/config"
)

// Load decodes, validates and resolves a stack file with the program's own code, as `pulumi up`
// would at now: the one way the access report and the doctor turn a stack into a plan. The
// config is returned too, for reports that point back to where something is written. An
// invalid config returns an error naming the file and wrapping the *diag.ConfigError.
func Load(sf config.StackFile, now time.Time) (*Stack, *config.Config, error) {
	cfg, err := sf.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", sf.Path, err)
	}
	return Resolve(cfg, now), cfg, nil
}
