// The asyncforge extension: starts `asyncforge lsp --stdio` and hands it the YAML and JSON
// documents of the workspace. The server decides which of them are AsyncAPI documents.

import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

/** The binary named by the `asyncforge.path` setting (default: `asyncforge` on PATH). */
function serverPath(): string {
  const configured = vscode.workspace
    .getConfiguration("asyncforge")
    .get<string>("path", "asyncforge")
    .trim();
  return configured.length > 0 ? configured : "asyncforge";
}

function createClient(): LanguageClient {
  const command = serverPath();
  const run = { command, args: ["lsp", "--stdio"], transport: TransportKind.stdio };
  const serverOptions: ServerOptions = { run, debug: run };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "yaml" },
      { scheme: "file", language: "json" },
      { scheme: "untitled", language: "yaml" },
      { scheme: "untitled", language: "json" },
    ],
    synchronize: {
      // A change to a referenced file on disk can change a document's diagnostics.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{yaml,yml,json}"),
    },
    outputChannel: output,
  };
  return new LanguageClient("asyncforge", "asyncforge", serverOptions, clientOptions);
}

async function start(): Promise<void> {
  const next = createClient();
  client = next;
  try {
    await next.start();
  } catch (err) {
    client = undefined;
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window.showErrorMessage(
      `asyncforge: cannot start \`${serverPath()} lsp --stdio\` (${message}). ` +
        "Install asyncforge or set `asyncforge.path`.",
    );
  }
}

async function stop(): Promise<void> {
  const current = client;
  client = undefined;
  if (current !== undefined) {
    await current.stop();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("asyncforge");
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand("asyncforge.restart", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("asyncforge.path")) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}
