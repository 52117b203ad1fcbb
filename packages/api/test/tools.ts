import { describeIf, needTool } from '@gantry/testkit';

/** `describe` when `tool` is on PATH; else skipped with a warning, or failed under CI=true. */
export function describeIfTool(tool: string, pkg: string): jest.Describe {
  return describeIf(needTool(tool, pkg));
}
