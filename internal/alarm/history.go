package alarm

import "encoding/json"

// ActionsFor returns the ARNs to notify when the alarm enters state s:
// AlarmActions for ALARM, OKActions for OK, InsufficientDataActions for
// INSUFFICIENT_DATA, and none while ActionsEnabled is false. Callers run
// them only on a state change (alerts.md §5.2).
func (c *Config) ActionsFor(s State) []string {
	if !c.ActionsEnabled {
		return nil
	}
	switch s {
	case StateAlarm:
		return c.AlarmActions
	case StateOK:
		return c.OKActions
	case StateInsufficientData:
		return c.InsufficientDataActions
	}
	return nil
}

type historyState struct {
	StateValue      State           `json:"stateValue"`
	StateReason     string          `json:"stateReason"`
	StateReasonData json.RawMessage `json:"stateReasonData,omitempty"`
}

type historyData struct {
	Version  string       `json:"version"`
	OldState historyState `json:"oldState"`
	NewState historyState `json:"newState"`
}

// HistoryData is the HistoryData JSON of a StateUpdate item in
// DescribeAlarmHistory: the old and the new state with their reasons.
func HistoryData(oldState State, oldReason string, r Result) []byte {
	h := historyData{
		Version:  "1.0",
		OldState: historyState{StateValue: oldState, StateReason: oldReason},
		NewState: historyState{StateValue: r.State, StateReason: r.Reason, StateReasonData: r.ReasonData},
	}
	b, err := marshal(h)
	if err != nil { // reason data that is not JSON: leave it out
		h.NewState.StateReasonData = nil
		b, _ = marshal(h)
	}
	return b
}
