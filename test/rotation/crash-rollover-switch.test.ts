// Crash-point enumeration (invariant 5) of a full CA rollover, second half (the runs that switch the leaves and drop the old CA): the N-th write is
// performed and the process "dies"; a new run after the lease expires must finish the rollover
// exactly once (CA generations and credential versions counted), and after every single write
// each side's cluster Secret must present a certificate that the peer's cluster ca.crt trusts
// (invariant 1). The scenario and checks: test/support/crash-scenarios.ts.
import { describeRolloverCrashes } from '../support/crash-scenarios.js';

describeRolloverCrashes('switch-and-drop');
