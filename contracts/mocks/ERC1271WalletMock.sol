// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @dev Test-only contract wallet that accepts signatures made by its owner (EIP-1271), unless its
/// owner has told it to refuse them: then it answers a non-magic value even for the owner's own
/// valid signature, which only a registry that honours the wallet's answer refuses.
contract ERC1271WalletMock is IERC1271 {
    address private immutable _owner;
    bool private _refusing;

    constructor(address owner) {
        _owner = owner;
    }

    function setRefusing(bool refusing) external {
        require(msg.sender == _owner);
        _refusing = refusing;
    }

    function isValidSignature(bytes32 hash, bytes memory signature) external view returns (bytes4) {
        if (_refusing) return 0xffffffff;
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == _owner ? this.isValidSignature.selector : bytes4(0);
    }

    /// @dev Lets the wallet act as a subject directly, as a smart account would.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == _owner);
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }
}
