package dashboards

// The managed Highlights dashboard's widgets, written for OpenTrail. Each
// reads FROM ? ($EventDataStoreId$: one store, or the union of the
// account's stores of CloudTrail events, decision 133) between '?' and '?'
// ($StartTime$, $EndTime$). Aliases are fixed: the account has at most one
// Highlights dashboard per region.

// highlightsPrefix starts every Highlights widget's alias.
const highlightsPrefix = HighlightsName + "-"

// window is the time filter every Highlights widget applies.
const window = "eventTime >= '?' AND eventTime <= '?'"

var highlightsParams = []string{ParamStore, ParamStartTime, ParamEndTime}

var highlights = []struct {
	alias, title, view, statement string
	params                        []string
}{
	{alias: "TopCallers", title: "Top callers", view: "Table",
		statement: "SELECT COALESCE(userIdentity.arn, userIdentity.invokedBy, userIdentity.type, 'unknown') AS caller, COUNT(*) AS eventCount FROM ? WHERE " + window +
			" GROUP BY COALESCE(userIdentity.arn, userIdentity.invokedBy, userIdentity.type, 'unknown') ORDER BY eventCount DESC LIMIT 10"},
	{alias: "TopErrors", title: "Top errors", view: "Table",
		statement: "SELECT errorCode, COUNT(*) AS eventCount FROM ? WHERE " + window +
			" AND errorCode IS NOT NULL GROUP BY errorCode ORDER BY eventCount DESC LIMIT 10"},
	{alias: "AccessDenied", title: "Access denied", view: "Table",
		statement: "SELECT eventSource, eventName, COALESCE(userIdentity.arn, userIdentity.type, 'unknown') AS caller, COUNT(*) AS eventCount FROM ? WHERE " + window +
			" AND (errorCode LIKE '%AccessDenied%' OR errorCode LIKE '%UnauthorizedOperation%' OR errorCode LIKE '%Unauthorized%')" +
			" GROUP BY eventSource, eventName, COALESCE(userIdentity.arn, userIdentity.type, 'unknown') ORDER BY eventCount DESC LIMIT 10"},
	{alias: "ConsoleLogins", title: "Console sign-ins", view: "Table",
		statement: "SELECT COALESCE(userIdentity.userName, userIdentity.arn, userIdentity.type, 'unknown') AS signInUser, COALESCE(element_at(responseElements, 'ConsoleLogin'), errorMessage, 'unknown') AS result, COUNT(*) AS signIns FROM ? WHERE " + window +
			" AND eventName = 'ConsoleLogin' GROUP BY COALESCE(userIdentity.userName, userIdentity.arn, userIdentity.type, 'unknown'), COALESCE(element_at(responseElements, 'ConsoleLogin'), errorMessage, 'unknown') ORDER BY signIns DESC LIMIT 10"},
	{alias: "ResourcesCreated", title: "Resources created", view: "Table",
		statement: "SELECT eventSource, eventName, COUNT(*) AS eventCount FROM ? WHERE " + window +
			" AND errorCode IS NULL AND eventName LIKE 'Create%' GROUP BY eventSource, eventName ORDER BY eventCount DESC LIMIT 10"},
	{alias: "ResourcesDeleted", title: "Resources deleted", view: "Table",
		statement: "SELECT eventSource, eventName, COUNT(*) AS eventCount FROM ? WHERE " + window +
			" AND errorCode IS NULL AND eventName LIKE 'Delete%' GROUP BY eventSource, eventName ORDER BY eventCount DESC LIMIT 10"},
	{alias: "EventsOverTime", title: "Events over time", view: "LineChart",
		statement: "SELECT date_trunc('?', eventTime) AS period, COUNT(*) AS eventCount, COUNT(errorCode) AS errorCount FROM ? WHERE " + window +
			" GROUP BY date_trunc('?', eventTime) ORDER BY period",
		params: []string{ParamPeriod, ParamStore, ParamStartTime, ParamEndTime, ParamPeriod}},
}

// highlightsWidgets returns the Highlights dashboard's widgets.
func highlightsWidgets() []Widget {
	out := make([]Widget, len(highlights))
	for i, h := range highlights {
		params := h.params
		if params == nil {
			params = highlightsParams
		}
		out[i] = Widget{Alias: highlightsPrefix + h.alias, Statement: h.statement, Parameters: append([]string(nil), params...),
			View: map[string]string{"Title": h.title, "View": h.view}}
	}
	return out
}
