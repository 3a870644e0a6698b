// Palette commands run the server's code action at the cursor, so the server alone decides which
// function (or test) is there and what its arguments are.

export interface CommandLike {
  title: string;
  command: string;
  arguments?: unknown[];
}

interface CodeActionLike {
  title: string;
  command?: CommandLike;
}

/** The first action (or bare command) in a textDocument/codeAction answer that runs `command`. */
export function pickCommand(items: unknown, command: string): CommandLike | undefined {
  if (!Array.isArray(items)) {
    return undefined;
  }
  for (const item of items as (CommandLike | CodeActionLike)[]) {
    // A Command has a string `command`; a CodeAction may carry a Command object.
    const cmd = typeof item.command === 'string' ? item as CommandLike : (item as CodeActionLike).command;
    if (cmd?.command === command) {
      return cmd;
    }
  }
  return undefined;
}

/** The job's function, from the command's one argument object. */
export function qualnameOfArgs(args: unknown[] | undefined): string | undefined {
  const first = args?.[0] as { qualname?: unknown } | undefined;
  return typeof first?.qualname === 'string' ? first.qualname : undefined;
}
