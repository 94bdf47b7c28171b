// Package querygen turns English prompts into CloudTrail Lake SQL through
// an OpenAI-compatible chat-completions endpoint (a local model server
// such as llama.cpp, Ollama or vLLM, or a hosted API): what GenerateQuery
// runs (spec lake.md §9; decisions 154–158).
//
// [Client.Generate] sends one request: a system message that states the
// Lake dialect's rules, the event data store's ID and its schema, and the
// prompt as the user message. [ExtractSQL] takes the statement out of the
// model's reply (a fenced code block, or the text from the first SELECT or
// WITH); the caller MUST validate it as StartQuery would before returning
// it, since a model can write anything.
//
// [Aliases] keeps what GenerateQuery generated, so StartQuery can run it by
// its QueryAlias and DescribeQuery can show its prompt.
package querygen
