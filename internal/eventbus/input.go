package eventbus

import (
	"time"

	"github.com/opentrail/opentrail/internal/eventpattern"
)

// input builds the body a target receives for an event envelope: the
// target's constant Input, the part InputPath selects, the
// InputTransformer's output, or the whole envelope (alerts.md §3.4).
func (e *Engine) input(r *Rule, t *Target, env []byte, now time.Time) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath != "":
		return eventpattern.ApplyInputPath(env, t.InputPath)
	case t.InputTransformer != nil:
		tr, err := eventpattern.NewInputTransformer(t.InputTransformer.InputPathsMap, t.InputTransformer.InputTemplate)
		if err != nil {
			return nil, err
		}
		return tr.Transform(env, eventpattern.RuleInfo{ARN: r.ARN(), Name: r.Name, IngestionTime: now})
	}
	return env, nil
}

// checkInput validates a target's InputPath and InputTransformer.
func (e *Engine) checkInput(t *Target) error {
	if t.InputPath != "" {
		if err := eventpattern.ValidateInputPath(t.InputPath); err != nil {
			return err
		}
	}
	if t.InputTransformer != nil {
		if _, err := eventpattern.NewInputTransformer(t.InputTransformer.InputPathsMap, t.InputTransformer.InputTemplate); err != nil {
			return err
		}
	}
	return nil
}
