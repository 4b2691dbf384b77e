/** test/chain/calldata.test.ts on anvil, with interval mining (test/helpers/on-anvil.ts). */
import '../../helpers/on-anvil.ts';
import '../calldata.test.ts';
