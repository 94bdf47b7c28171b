// Package eventpattern is EventBridge's event pattern language.
package eventpattern
