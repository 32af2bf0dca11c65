import { describe, expect, it } from 'vitest';
import { age, renderEvents, renderTable, toYaml } from '../../../src/mcp/format.js';

const now = Date.parse('2025-01-01T12:00:00Z');

describe('renderTable', () => {
  const table = {
    columnDefinitions: [{ name: 'Name' }, { name: 'Ready' }, { name: 'IP', priority: 1 }, { name: 'Age' }],
    rows: [
      { cells: ['web', '1/1', '10.0.0.1', '5m'], object: { metadata: { namespace: 'dev' } } },
      { cells: ['database-0', null, '10.0.0.2', '2d'], object: { metadata: { namespace: 'prod' } } },
    ],
  };

  it('shows the default columns, aligned', () => {
    expect(renderTable(table, { withNamespace: false })).toBe('NAME        READY   AGE\nweb         1/1     5m\ndatabase-0  <none>  2d');
  });

  it('adds a NAMESPACE column across namespaces', () => {
    expect(renderTable(table, { withNamespace: true }).split('\n')[1]).toBe('dev        web         1/1     5m');
  });

  it('says when there is nothing', () => {
    expect(renderTable({ rows: [] }, { withNamespace: false })).toBe('No resources found.');
  });
});

describe('toYaml', () => {
  it('leaves out managedFields, in objects and list items', () => {
    const text = toYaml({ kind: 'List', items: [{ metadata: { name: 'a', managedFields: [{ manager: 'kubectl' }] } }] });
    expect(text).toBe('kind: List\nitems:\n  - metadata:\n      name: a\n');
  });
});

describe('age', () => {
  it.each([
    ['2025-01-01T11:59:15Z', '45s'],
    ['2025-01-01T11:48:00Z', '12m'],
    ['2025-01-01T09:00:00Z', '3h'],
    ['2024-12-27T12:00:00Z', '5d'],
    [undefined, '<unknown>'],
  ])('%s → %s', (time, want) => expect(age(time, now)).toBe(want));
});

describe('renderEvents', () => {
  it('sorts oldest first, keeps the most recent, and joins message lines', () => {
    const events = [
      { type: 'Warning', reason: 'BackOff', message: 'Back-off\nrestarting', count: 4, lastTimestamp: '2025-01-01T11:59:00Z', involvedObject: { kind: 'Pod', name: 'web' } },
      { type: 'Normal', reason: 'Scheduled', message: 'assigned', eventTime: '2025-01-01T11:00:00Z', involvedObject: { kind: 'Pod', name: 'web' } },
      { type: 'Normal', reason: 'Old', message: 'dropped', lastTimestamp: '2025-01-01T10:00:00Z', involvedObject: { kind: 'Pod', name: 'web' } },
    ];
    expect(renderEvents(events, { withNamespace: false, limit: 2, now })).toBe(
      ['LAST SEEN  TYPE     REASON     OBJECT   MESSAGE', '60m        Normal   Scheduled  pod/web  assigned', '60s        Warning  BackOff    pod/web  Back-off restarting (x4)'].join('\n'),
    );
  });
});
