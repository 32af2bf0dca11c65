import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { create } from 'asciinema-player';
import type { Player } from 'asciinema-player';
import 'asciinema-player/dist/bundle/asciinema-player.css';
import { ApiError, getAsciicast } from '../api.ts';
import { ErrorNotice } from './Notice.tsx';

/**
 * Plays an exec/attach recording (asciicast v2) at real speed, with the
 * player's seek bar. The recording is fetched here rather than by the
 * player, so a refusal (e.g. one that does not verify) is shown plainly and
 * can be overridden.
 */
export function TerminalPlayer({ streamSession, kind }: { streamSession: string; kind: string }): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>();
  const [unverified, setUnverified] = useState(false);
  useEffect(() => {
    let player: Player | undefined;
    let current = true;
    setError(undefined);
    getAsciicast(streamSession, unverified).then(
      (cast) => {
        if (!current || box.current === null) return;
        player = create({ data: cast }, box.current, {
          fit: 'width',
          poster: 'npt:0:1',
          terminalFontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
        });
      },
      (e: unknown) => current && setError(e),
    );
    return () => {
      current = false;
      player?.dispose();
    };
  }, [streamSession, unverified]);
  const refusedUnverified = error instanceof ApiError && error.code === 'recording-unverified';
  return (
    <figure className="terminal">
      <figcaption>
        Terminal recording ({kind}), stream {streamSession}
        {unverified && <strong> (unverified)</strong>}
      </figcaption>
      <div ref={box} role="region" aria-label={`Terminal playback of ${kind} stream ${streamSession}`} />
      {error !== undefined && <ErrorNotice error={error} title="Could not play the recording" />}
      {refusedUnverified && (
        <button type="button" onClick={() => setUnverified(true)}>
          Play it anyway (unverified)
        </button>
      )}
    </figure>
  );
}
