import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/main.js';

describe('gatehouse CLI', () => {
  const program = buildProgram();

  it('lists its commands in --help', () => {
    const help = program.helpInformation();
    for (const name of ['serve', 'kubeconfig', 'up']) expect(help).toContain(name);
  });

  it('gives every command a description and --help', () => {
    for (const command of program.commands) {
      expect(command.description(), command.name()).not.toBe('');
      const help = command.helpInformation();
      expect(help).toContain(`Usage: gatehouse ${command.name()}`);
      expect(help).toContain('--help');
    }
  });

  it('shows examples in the --help of every command', () => {
    for (const command of program.commands) {
      let shown = '';
      command.configureOutput({ writeOut: (text) => (shown += text), writeErr: (text) => (shown += text) });
      command.outputHelp();
      expect(shown, command.name()).toMatch(/\nExamples?( \([^)]*\))?:\n +\S/);
    }
  });
});
