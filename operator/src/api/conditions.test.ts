import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConditionType, formatTime, nextConditions } from './conditions.js';

void describe('nextConditions', () => {
  const first = new Date('2026-01-01T10:00:00.123Z');
  const later = new Date('2026-01-01T11:00:00Z');
  const ready = (
    status: boolean,
    reason = 'R',
  ): Parameters<typeof nextConditions>[0]['inputs'][number] => ({
    type: ConditionType.Ready,
    status,
    reason,
    message: '',
  });

  void it('keeps lastTransitionTime while the status holds, so an unchanged state compares equal', () => {
    const previous = nextConditions({
      previous: undefined,
      inputs: [ready(true)],
      generation: 1,
      now: first,
    });
    const again = nextConditions({ previous, inputs: [ready(true)], generation: 1, now: later });
    assert.deepEqual(again, previous);
    assert.equal(previous[0]!.lastTransitionTime, '2026-01-01T10:00:00Z');
  });

  void it('moves lastTransitionTime when the status flips, not when only the reason changes', () => {
    const previous = nextConditions({
      previous: undefined,
      inputs: [ready(true)],
      generation: 1,
      now: first,
    });
    const reason = nextConditions({
      previous,
      inputs: [ready(true, 'Other')],
      generation: 2,
      now: later,
    });
    assert.equal(reason[0]!.lastTransitionTime, formatTime(first));
    assert.equal(reason[0]!.observedGeneration, 2);
    const flipped = nextConditions({ previous, inputs: [ready(false)], generation: 2, now: later });
    assert.equal(flipped[0]!.lastTransitionTime, formatTime(later));
  });

  void it('keeps conditions it was not given, sorted by type', () => {
    const previous = nextConditions({
      previous: undefined,
      inputs: [
        ready(true),
        { type: ConditionType.Degraded, status: false, reason: 'AsExpected', message: '' },
      ],
      generation: 1,
      now: first,
    });
    const next = nextConditions({ previous, inputs: [ready(false)], generation: 1, now: later });
    assert.deepEqual(
      next.map((c) => [c.type, c.status]),
      [
        ['Degraded', 'False'],
        ['Ready', 'False'],
      ],
    );
  });
});
