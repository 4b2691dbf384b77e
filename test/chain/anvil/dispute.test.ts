/** test/chain/dispute.test.ts on anvil, with interval mining (test/helpers/on-anvil.ts). */
import '../../helpers/on-anvil.ts';
import '../dispute.test.ts';
