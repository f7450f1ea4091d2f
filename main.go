// Command agent-vault is the Agent Vault server and its command-line client.
package main

func main() {}
